"""``--executor dask`` (SPEC §1): a real scheduler and real workers on 127.0.0.1, identical results.

The cluster is started the way a user starts one (``dask scheduler``, ``dask worker``), each
process in its own session, and stopped by pid in the fixture's finalizer whatever the test did.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from conftest import REPO, duckpipe_cli
from test_resilience import TABLES, _same, _snapshot

pytest.importorskip("distributed", reason="the dask extra is installed by make test")

HOST = "127.0.0.1"
SELECTION = ("--units", "1-20")      # half the units of the test data: the tests stay short


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the process (and its session's group), SIGKILL if it lingers; always reaped."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@dataclass
class Cluster:
    address: str
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen]
    log_dir: Path


@contextmanager
def _cluster(root: Path) -> Iterator[Cluster]:
    """``dask scheduler`` + two ``dask worker --nthreads 1`` processes, bound to 127.0.0.1, stopped
    by pid on the way out whatever happened."""
    procs: list[subprocess.Popen] = []
    log_dir = root / "dask-logs"
    log_dir.mkdir()

    def start(name: str, *args: str) -> subprocess.Popen:
        log = open(log_dir / f"{name}.log", "w")
        p = subprocess.Popen([sys.executable, "-m", "dask", *args], cwd=root, stdout=log,
                             stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        procs.append(p)
        return p

    try:
        port = _free_port()
        address = f"tcp://{HOST}:{port}"
        scheduler = start("scheduler", "scheduler", "--host", HOST, "--port", str(port), "--no-dashboard")
        workers = [start(f"worker{i}", "worker", address, "--host", HOST, "--nthreads", "1", "--no-nanny",
                         "--no-dashboard", "--memory-limit", "1GB", "--local-directory", str(root / f"w{i}"))
                   for i in range(2)]
        from distributed import Client
        client = Client(address, timeout=60)
        try:
            client.wait_for_workers(2, timeout=60)
        finally:
            client.close()
        yield Cluster(address, scheduler, workers, log_dir)
    finally:
        for p in reversed(procs):
            _stop(p)


@pytest.fixture
def dask_cluster(tmp_path):
    """A cluster of the test's own: for a test that kills one of its workers."""
    with _cluster(tmp_path) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def shared_cluster(tmp_path_factory):
    """One cluster for the tests that leave it as they found it (starting one costs ~25 s)."""
    with _cluster(tmp_path_factory.mktemp("dask_cluster")) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def reference(tmp_path_factory, ingested_template) -> dict:
    """The result tables of a local by-unit run of the analysis (what every Dask run must equal)."""
    ws = tmp_path_factory.mktemp("dask_reference") / "ws"
    shutil.copytree(ingested_template, ws, ignore=shutil.ignore_patterns("duckpipe.lock", "status.json"))
    res = duckpipe_cli("run", "--workspace", str(ws), "--strategy", "by-unit", "--memory-limit", "1GB", "-q",
                       *SELECTION)
    assert res.returncode == 0, res.stderr
    snap = _snapshot(ws, TABLES["analysis"])
    assert [s for _, _, s in snap["units"]].count("done") == 20
    return snap


def _assert_equal(got: dict, want: dict) -> None:
    assert set(got) == set(want)
    for table in want:
        assert len(got[table]) == len(want[table]), table
        assert all(_same(a, b) for a, b in zip(got[table], want[table])), table


def _query(ws: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(ws / "duckpipe.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _dask_run(ws: Path, address: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "duckpipe", "run", "--workspace", str(ws), "--executor", "dask", "--scheduler",
            address, "--strategy", "by-unit", "--memory-limit", "1GB", "-q", *SELECTION, *extra]


@pytest.mark.slow
def test_run_on_a_real_cluster_equals_the_local_run(workspace, shared_cluster, reference):
    res = subprocess.run(_dask_run(workspace, shared_cluster.address), capture_output=True, text=True, timeout=300,
                         cwd=REPO)
    assert res.returncode == 0, res.stderr
    _assert_equal(_snapshot(workspace, TABLES["analysis"]), reference)
    per_worker = dict(_query(workspace, "SELECT worker, count(*) FROM units WHERE status = 'done' GROUP BY worker"))
    assert None not in per_worker and len(per_worker) >= 2, per_worker          # both workers computed units
    assert all(w.startswith(f"tcp://{HOST}:") for w in per_worker)
    (executor,) = _query(workspace, "SELECT executor FROM runs")[0]
    facts = json.loads(executor)
    assert facts["executor"] == "dask" and facts["scheduler"] == shared_cluster.address
    assert sorted(facts["workers"]) == sorted(per_worker) and facts["threads"] == 2
    status = duckpipe_cli("status", "--workspace", str(workspace))
    assert all(f"worker {w}: {n} units" in status.stdout for w, n in per_worker.items()), status.stdout


@pytest.mark.slow
def test_a_worker_killed_mid_batch_costs_only_time(workspace, dask_cluster, reference):
    """SIGKILL one worker while it computes a batch: the scheduler reschedules, the run exits 0."""
    from distributed import Client
    client = Client(dask_cluster.address, timeout=30)
    proc = subprocess.Popen(_dask_run(workspace, dask_cluster.address), cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        pids = client.run(os.getpid)                       # {worker address: pid}
        victim_pid = dask_cluster.workers[0].pid
        victim = next(a for a, pid in pids.items() if pid == victim_pid)
        killed_while = None
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            busy = [k for k in client.processing(workers=[victim]).get(victim, ()) if "duckpipe-batch" in str(k)]
            if busy:
                time.sleep(0.1)                            # inside the task, not at its edge
                os.kill(victim_pid, signal.SIGKILL)
                killed_while = busy
                break
            time.sleep(0.05)
        assert killed_while, "the victim never ran a batch before the run ended"
        dask_cluster.workers[0].wait(timeout=10)
        _, err = proc.communicate(timeout=300)
    finally:
        client.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    _assert_equal(_snapshot(workspace, TABLES["analysis"]), reference)
    survivors = {w for (w,) in _query(workspace, "SELECT DISTINCT worker FROM units WHERE status = 'done'")}
    assert survivors - {victim}, survivors                  # the other worker took over


@pytest.mark.parametrize("command", ["run", "ingest"])
def test_dask_without_the_extra_says_how_to_install_it(workspace, raw_small, command):
    """Imports of dask and distributed fail in this interpreter, as on an install without the extra."""
    code = ("import sys; sys.modules['dask'] = None; sys.modules['distributed'] = None;"
            " from duckpipe.cli import main; sys.argv[0] = 'duckpipe'; main()")
    source = [str(raw_small)] if command == "ingest" else []
    manifest = _query(workspace, "SELECT path, file_id FROM ingest_manifest ORDER BY path")
    res = subprocess.run([sys.executable, "-c", code, command, *source, "--workspace", str(workspace),
                          "--executor", "dask"], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'duckpipe[dask]'" in lines[0], res.stderr
    assert _query(workspace, "SELECT count(*) FROM runs") == [(0,)]          # nothing started
    assert _query(workspace, "SELECT path, file_id FROM ingest_manifest ORDER BY path") == manifest


def test_executor_options_are_checked_before_any_work(workspace):
    for args, message in ((["--scheduler", "tcp://127.0.0.1:1"], "--scheduler goes with --executor dask"),
                          (["--executor", "dask", "--workers", "0"], "--workers: 0"),
                          (["--executor", "ray"], "not one of local|dask")):
        res = duckpipe_cli("run", "--workspace", str(workspace), *args)
        assert res.returncode == 2 and message in res.stderr, (args, res.stderr)


def test_unreachable_scheduler_is_one_clear_error(workspace):
    port = _free_port()                                  # nothing listens there
    res = duckpipe_cli("run", "--workspace", str(workspace), "--executor", "dask", "--scheduler",
                       f"tcp://{HOST}:{port}", timeout=120)
    assert res.returncode == 2, res.stderr
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith(f"Error: --scheduler tcp://{HOST}:{port}: cannot connect") and "Traceback" not in res.stderr


def test_workspace_probe_names_what_a_worker_does_not_see(tmp_path):
    """What each worker runs at start: the coordinator's probe file must be readable, the folder writable."""
    from duckpipe.engine.dask_executor import probe_workspace
    ws = tmp_path / "ws"
    ws.mkdir()
    token = "abc123"
    assert "does not exist" in probe_workspace(str(tmp_path / "elsewhere"), token)
    assert "not the coordinator's workspace" in probe_workspace(str(ws), token)    # same path, other disk
    (ws / f".dask-probe-{token}").write_text(token)
    assert probe_workspace(str(ws), token) is None
    assert sorted(p.name for p in ws.iterdir()) == [f".dask-probe-{token}"]       # its own file removed


def test_task_share_of_a_worker():
    """Each task's DuckDB: 60% of its worker's memory limit over its threads; a private temp dir."""
    import datetime as dt

    from duckpipe.engine.dask_executor import local_task_memory_bytes, task_settings
    from duckpipe.engine.executor import BatchJob
    job = BatchJob(1, ((1, dt.date(2024, 9, 2)),), {}, {}, [], "counts", "3GB", 8, "/ws/tmp")
    t = task_settings(job, 4 * 2**30, 2, 16, "77-1")
    assert t.memory_limit == f"{int(4 * 2**30 * 0.6 / 2) // 2**20}MiB" and t.threads == 8
    assert t.temp_dir == "/ws/tmp/dask-77-1" and t.units == job.units
    assert task_settings(job, None, 1, 2, "x").memory_limit == "3GB"              # no worker limit: the run's
    assert task_settings(job, None, 1, 2, "x").threads == 2                       # no more than its cores
    assert local_task_memory_bytes(3 * 2**30, 2) == 2**30                         # 2 workers + coordinator


def _is_python(proc) -> bool:
    """A child seen earlier may be gone already (a short-lived helper of multiprocessing)."""
    import psutil
    try:
        return "python" in proc.name().lower()
    except psutil.NoSuchProcess:
        return False


@pytest.mark.slow
def test_ctrl_c_on_a_local_cluster_cancels_exits_3_and_leaves_no_worker(workspace):
    """--workers 2 (a LocalCluster of processes): SIGINT mid-run -> exit 3, no unit left running,
    no worker process left behind; the next run resumes and finishes."""
    import psutil
    proc = subprocess.Popen([sys.executable, "-m", "duckpipe", "run", "--workspace", str(workspace), "--executor",
                             "dask", "--workers", "2", "--strategy", "by-unit", "--memory-limit", "1GB", "-q",
                             *SELECTION], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    children: set[psutil.Process] = set()
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            children.update(psutil.Process(proc.pid).children(recursive=True))
            try:
                st = json.loads((workspace / "status.json").read_text())
            except (OSError, ValueError):
                st = {}
            if st.get("pid") == proc.pid and st.get("units_done", 0) >= 2:
                break
            time.sleep(0.1)
        assert proc.poll() is None, "the run ended before it could be interrupted"
        assert len([c for c in children if _is_python(c)]) >= 2      # the worker processes
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 3, err
    assert "interrupted" in err
    deadline = time.time() + 20
    while time.time() < deadline and any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children):
        time.sleep(0.2)
    left = [c.pid for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    for pid in left:                                     # never leak them, but fail the test
        os.kill(pid, signal.SIGKILL)
    assert not left, f"worker processes left behind: {left}"
    states = dict(_query(workspace, "SELECT status, count(*) FROM units GROUP BY ALL"))
    assert "running" not in states and states.get("done", 0) >= 2
    assert _query(workspace, "SELECT status FROM runs") == [("interrupted",)]
    res = duckpipe_cli("run", "--workspace", str(workspace), "--strategy", "by-unit", "-q", *SELECTION)
    assert res.returncode == 0, res.stderr
    assert dict(_query(workspace, "SELECT status, count(*) FROM units GROUP BY ALL")).get("done") == 20


@pytest.mark.slow
def test_a_batch_failing_on_a_worker_is_retried_unit_by_unit_like_locally(workspace, tmp_path, shared_cluster):
    """A store file whose pages no longer read fails its date's batch on the worker: the coordinator
    retries its units one by one (while other batches stay in flight), marks them failed, the
    rest completes, exit 1; exactly the outcome of a local run."""
    local = tmp_path / "local"
    shutil.copytree(workspace, local)
    dates = [d for (d,) in _query(workspace, "SELECT DISTINCT date FROM store_partitions WHERE table_name = 'orders'"
                                             " ORDER BY date")]
    bad_date = dates[1]
    for ws in (workspace, local):
        (target,) = sorted((ws / "store" / "orders" / f"date={bad_date.isoformat()}").glob("*.parquet"))[:1]
        data = bytearray(target.read_bytes())             # pages overwritten, footer intact: the views
        data[4: len(data) // 2] = b"\xff" * (len(data) // 2 - 4)   # bind, the batch's scan fails
        target.write_bytes(bytes(data))
    res_local = duckpipe_cli("run", "--workspace", str(local), "--strategy", "by-date", "-q", *SELECTION)
    res = subprocess.run(_dask_run(workspace, shared_cluster.address, "--strategy", "by-date"), capture_output=True,
                         text=True, timeout=300, cwd=REPO)
    assert res_local.returncode == 1 and res.returncode == 1, (res_local.stderr, res.stderr)
    sql = "SELECT security_code, date, status FROM units WHERE status IN ('done', 'failed') ORDER BY ALL"
    got, want = _query(workspace, sql), _query(local, sql)
    assert got == want
    failed = {d for _, d, s in got if s == "failed"}
    assert failed == {bad_date} and any(s == "done" for _, _, s in got)
    errors = _query(workspace, "SELECT DISTINCT attempts FROM units WHERE status = 'failed'")
    assert errors == [(1,)]                                  # the batch, then each unit once
    _assert_equal(_snapshot(workspace, TABLES["analysis"]), _snapshot(local, TABLES["analysis"]))


# ------------------------------------------------------------------ ingest on Dask

STORE_SQL = {         # the store as the catalog describes it, store file names (file ids) and timings aside
    "ingest_manifest": "SELECT path, size, mtime, fingerprint, content_hash, source, table_name, format, lines,"
                       " rows_read, rows_loaded, rows_rejected, blank_lines, status, error FROM ingest_manifest",
    "ingest_rejects": "SELECT * FROM ingest_rejects",
    "ingest_partitions": "SELECT table_name, security_code, date, manifest_path, rows, hash_sum FROM ingest_partitions",
    "ingest_files": "SELECT table_name, date, rows, manifest_path FROM ingest_files",
    "store_partitions": "SELECT * FROM store_partitions",
}


def _store(ws: Path) -> dict[str, list[tuple]]:
    return {k: sorted(_query(ws, sql), key=repr) for k, sql in STORE_SQL.items()}


def _dask_ingest(raw: Path, ws: Path, address: str) -> subprocess.CompletedProcess:
    return duckpipe_cli("ingest", str(raw), "--workspace", str(ws), "--executor", "dask", "--scheduler", address,
                        "--memory-limit", "1GB", "--threads", "2", "-q", timeout=300)


@pytest.mark.slow
def test_ingest_and_run_on_a_real_cluster_equal_the_local_ones(tmp_path, raw_small, ingested_template, shared_cluster,
                                                                reference):
    """One task per input file on the real scheduler + 2 workers: the same manifest rows, slice
    checksums, rejects and store rows as the local ingest; then the run equals the local run."""
    from duckpipe.synth import synth
    faulty = tmp_path / "faulty"                      # bad rows, blank lines, odd line endings: rejects
    synth(faulty, securities=2, days=2, orders_per_unit=60, seed=5, faults=True)
    local = tmp_path / "local_faulty"
    res = duckpipe_cli("ingest", str(faulty), "--workspace", str(local), "--memory-limit", "1GB", "--threads", "2",
                       "-q")
    assert res.returncode == 0, res.stderr
    res = _dask_ingest(faulty, tmp_path / "dask_faulty", shared_cluster.address)
    assert res.returncode == 0, res.stderr
    got, want = _store(tmp_path / "dask_faulty"), _store(local)
    assert want["ingest_rejects"] and want["ingest_partitions"]           # the comparison has substance
    assert got == want

    ws = tmp_path / "ws"
    res = _dask_ingest(raw_small, ws, shared_cluster.address)
    assert res.returncode == 0, res.stderr
    assert _store(ws) == _store(ingested_template)
    writers = dict(_query(ws, "SELECT worker, count(*) FROM ingest_manifest GROUP BY worker"))
    assert len(writers) >= 2 and all(w and w.startswith(f"tcp://{HOST}:") for w in writers), writers
    on_disk = {p.relative_to(ws).as_posix() for p in (ws / "store").rglob("*.parquet")}
    assert on_disk == {p for (p,) in _query(ws, "SELECT path FROM ingest_files")}     # no orphan, none missing

    res = subprocess.run(_dask_run(ws, shared_cluster.address), capture_output=True, text=True, timeout=300, cwd=REPO)
    assert res.returncode == 0, res.stderr
    _assert_equal(_snapshot(ws, TABLES["analysis"]), reference)
    per_worker = dict(_query(ws, "SELECT worker, count(*) FROM units WHERE status = 'done' GROUP BY worker"))
    assert None not in per_worker and len(per_worker) >= 2, per_worker


def test_orphans_of_a_dead_workers_attempt_are_invisible_and_removed(tmp_path, raw_small):
    """An attempt whose worker died after writing a file's store files leaves files no manifest row
    names (each attempt draws its own file id): the retried attempt is committed, and the ingest
    removes the dead attempt's files once nothing is in flight."""
    from duckpipe.ingest.load import IngestSummary, clean_orphans
    from duckpipe.ingest.rawfiles import discover
    from duckpipe.ingest.remote import ingest_files, load_file_job
    from duckpipe.profiles import get_profile
    from duckpipe.settings import resolve
    ws = tmp_path / "ws"
    ws.mkdir()
    s = resolve(workspace=ws, memory_limit="1GB", threads=1, env={})
    files, _ = discover([raw_small], None, get_profile("asx"))
    files = [f for f in files if f.table == "orders"][:2]

    class DyingOnce:
        """run_jobs of an executor whose first attempt at each file dies after writing its files."""
        name = "test"

        def run_jobs(self, jobs, task):
            for job in jobs:
                load_file_job(job)                     # the dead attempt: files written, never committed
                yield job, task(job)

    import duckpipe.catalog as catalog
    with catalog.open_workspace(s, "ingest") as con:
        summary = IngestSummary()
        ingest_files(con, files, DyingOnce(), store_dir=s.store_dir, root=s.workspace, profile=s.profile_def,
                     memory="500MB", threads=1, temp_dir=s.temp_dir, summary=summary)
        assert [r.status for r in summary.files] == ["loaded", "loaded"]
        on_disk = {p.relative_to(ws).as_posix() for p in s.store_dir.rglob("*.parquet")}
        listed = {p for (p,) in con.execute("SELECT path FROM ingest_files").fetchall()}
        assert on_disk == listed and len(listed) >= 2
        assert clean_orphans(con, s.store_dir) == 0


# ------------------------------------------------------------------ a batch that fails for memory

@pytest.mark.slow
def test_a_batch_failing_for_memory_is_retried_as_halves(workspace, shared_cluster, reference, monkeypatch):
    """The worker task's testing hook raises DuckDB's out-of-memory error for any batch of more
    than one unit: by-date batches of 4 are retried as 2 + 2, then 1 + 1, and the run equals the
    local one. A unit that still fails alone is marked failed, the others complete."""
    import dataclasses

    from duckpipe import api
    from duckpipe.engine import runner
    from duckpipe.engine.units import Selection
    from duckpipe.settings import resolve
    sizes: list[int] = []
    hook: dict = {"oom_above": 1, "oom_units": ()}
    real_job = runner.Engine.job

    def job(self, batch_id, units):
        sizes.append(len(units))
        return dataclasses.replace(real_job(self, batch_id, units), **hook)

    monkeypatch.setattr(runner.Engine, "job", job)
    s = resolve(workspace=workspace, memory_limit="1GB", threads=1, env={})
    result = api.run(s, Selection(positions=((1, 20),)), strategy="by-date", executor="dask",
                     scheduler=shared_cluster.address, quiet=True)
    assert not result.failed and result.done == 20
    assert sorted(sizes) == [1] * 20 + [2] * 10 + [4] * 5                 # 5 dates: 4 -> 2 + 2 -> 1 + 1
    _assert_equal(_snapshot(workspace, TABLES["analysis"]), reference)

    first = _query(workspace, "SELECT security_code, date FROM units ORDER BY date, security_code LIMIT 4")
    hook["oom_units"] = (first[1],)
    sizes.clear()
    result = api.run(s, Selection(positions=((1, 4),)), strategy="by-date", rerun="all", executor="dask",
                     scheduler=shared_cluster.address, quiet=True)
    assert [(u.security_code, u.date) for u, _ in result.failed] == [first[1]] and result.done == 3
    assert "Out of Memory" in result.failed[0][1]
    assert sorted(sizes) == [1, 1, 1, 1, 2, 2, 4]
    states = dict(((sec, d), st) for sec, d, st in _query(workspace, "SELECT security_code, date, status FROM units"))
    assert [states[k] for k in first] == ["done", "failed", "done", "done"]


def test_memory_failures_are_recognised():
    import duckdb

    from duckpipe.db import QueryError
    from duckpipe.engine.dask_executor import is_memory_failure
    assert is_memory_failure(duckdb.OutOfMemoryException("Out of Memory Error: failed to allocate"))
    assert is_memory_failure(QueryError("template analysis/010_quotes.sql: OutOfMemoryException: Out of Memory"))
    assert is_memory_failure(type("KilledWorker", (Exception,), {})("worker died 3 times"))
    assert not is_memory_failure(duckdb.IOException("IO Error: no such file"))
    assert not is_memory_failure(RuntimeError("boom"))


def test_ingest_probe_names_input_folders_a_worker_cannot_read(tmp_path):
    """What each worker runs before a Dask ingest: the raw files' folders must be readable there."""
    from duckpipe.engine.dask_executor import probe_readable
    (tmp_path / "orders").mkdir()
    assert probe_readable([str(tmp_path / "orders")]) is None
    assert "is not a readable folder there" in probe_readable([str(tmp_path / "orders"), str(tmp_path / "nbbo")])


def test_a_worker_complaint_is_one_error_naming_the_worker():
    """The coordinator's side of both probes: silence passes; the first complaint (or a probe that
    raised) is one user error naming that worker and what it needs."""
    from duckpipe.engine.dask_executor import _refuse_on_complaint
    from duckpipe.errors import UsageError
    _refuse_on_complaint({"tcp://a:1": None, "tcp://b:2": None}, "does not see the workspace", "the workspace")
    with pytest.raises(UsageError, match=r"^dask worker tcp://b:2 cannot read the input files: OSError: gone\."
                                         r" Workers need the raw files on a shared filesystem"):
        _refuse_on_complaint({"tcp://a:1": None, "tcp://b:2": OSError("gone"), "tcp://c:3": "also"},
                             "cannot read the input files", "the raw files")
