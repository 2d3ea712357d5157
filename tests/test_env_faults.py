"""Environment faults (issue 12 items 6-8): one clear line and the exit code of SPEC §1, never
"Unexpected error ... This is a bug"; a damaged store is found by doctor and repaired."""
from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest
from conftest import duckpipe_cli, duckpipe_inproc
from test_resilience import _same, _snapshot

COMMON = ("--memory-limit", "1GB", "--threads", "2")
RESULTS = ["order_states", "sweeps", "scenario_costs", "dark_matches", "dark_sweeps", "agg_global", "stats_tests"]


def _cli(ws: Path, *args: str, process: bool = False):
    """The command in this process (what it says and its exit code), or with ``process`` in a new
    one (the real ``python -m duckpipe`` exit path, checked once per kind of fault)."""
    return (duckpipe_cli if process else duckpipe_inproc)(*args, "--workspace", str(ws), *COMMON)


def _one_clear_line(res, code: int, *needles: str) -> str:
    """The command exited ``code`` with one 'Error: ...' line naming each needle, no bug report."""
    assert res.returncode == code, (res.returncode, res.stdout, res.stderr)
    text = res.stdout + res.stderr
    assert "This is a bug" not in text and "Traceback" not in text, text
    errors = [line for line in res.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, res.stderr
    for n in needles:
        assert n in errors[0], errors[0]
    return errors[0]


def _store_files(ws: Path) -> list[tuple[str, str, str]]:
    """(table, store path relative to the workspace, date) of every file the catalog lists."""
    con = duckdb.connect(str(ws / "duckpipe.duckdb"), read_only=True)
    try:
        return [(t, p, str(d)) for t, p, d in con.execute(
            "SELECT table_name, path, date FROM ingest_files ORDER BY path").fetchall()]
    finally:
        con.close()


def _overwrite_middle(path: Path, n: int = 4096) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.seek(size // 3)
        fh.write(b"\xa5" * min(n, size // 3))


# ---------------------------------------------------------------- item 8: a damaged store

@pytest.mark.slow
def test_doctor_finds_damaged_store_files_repair_and_ingest_restore_them(workspace, ran_template, raw_small):
    clean = ran_template                                  # the same workspace, run without damage
    files = _store_files(workspace)
    trades = [(p, d) for t, p, d in files if t == "trades"]
    nbbo = [(p, d) for t, p, d in files if t == "nbbo"]
    (truncated, d1), (deleted, d2) = trades[2], trades[5]
    rotten, d3 = next((p, d) for p, d in nbbo if d not in (d1, d2))
    with open(workspace / truncated, "r+b") as fh:
        fh.truncate((workspace / truncated).stat().st_size // 2)
    (workspace / deleted).unlink()

    # run: the units of those dates fail naming the damaged file and doctor; the others complete
    res = _cli(workspace, "run")
    assert res.returncode == 1, res.stderr
    failed = [line for line in res.stdout.splitlines() if line.strip().startswith("failed ")]
    assert failed and all("store file store/trades/" in f and "duckpipe doctor" in f for f in failed), res.stdout
    assert any(truncated in f for f in failed) and any(deleted in f for f in failed)
    assert "don't know what type" not in res.stdout + res.stderr and "This is a bug" not in res.stderr

    # bit rot inside a data page of a file whose units are already done: only the checksums see it
    _overwrite_middle(workspace / rotten)
    quick = _cli(workspace, "doctor", "--quick")
    assert quick.returncode == 1 and truncated in quick.stdout and deleted in quick.stdout
    doc = _cli(workspace, "doctor")                       # small store: full check by default
    assert doc.returncode == 1, doc.stdout + doc.stderr
    lines = {p: next((ln for ln in doc.stdout.splitlines() if p in ln), "") for p in (truncated, deleted, rotten)}
    assert "unreadable as Parquet" in lines[truncated]
    assert "missing" in lines[deleted]
    assert "content differs" in lines[rotten] or "unreadable as Parquet" in lines[rotten]   # bytes decide which
    assert rotten not in quick.stdout                     # the footer and row counts still match
    assert "3 of" in doc.stdout and "doctor --repair" in doc.stdout

    rep = _cli(workspace, "doctor", "--repair")
    assert rep.returncode == 0, rep.stdout + rep.stderr
    assert "forgot 3 input file(s)" in rep.stdout and f"now run: duckpipe ingest {raw_small}" in rep.stdout

    ing = _cli(workspace, "ingest", str(raw_small))
    assert ing.returncode == 0, ing.stderr
    assert sum(line.startswith("loaded ") for line in ing.stdout.splitlines()) == 3, ing.stdout
    assert _cli(workspace, "doctor").returncode == 0
    run = _cli(workspace, "run")
    assert run.returncode == 0, run.stdout + run.stderr
    got, want = _snapshot(workspace, RESULTS), _snapshot(clean, RESULTS)
    assert got.keys() == want.keys() and all(_same(got[t], want[t]) for t in want)


def test_ingest_rereads_an_unchanged_input_whose_store_file_is_missing_or_unreadable(workspace, raw_small):
    files = _store_files(workspace)
    gone = next(p for t, p, _ in files if t == "orders")
    cut = next(p for t, p, _ in files if t == "nbbo")
    before = {t: n for t, n in duckdb.connect(str(workspace / "duckpipe.duckdb"), read_only=True).execute(
        "SELECT table_name, sum(rows) FROM ingest_files GROUP BY ALL").fetchall()}
    (workspace / gone).unlink()
    with open(workspace / cut, "r+b") as fh:
        fh.truncate(100)
    res = _cli(workspace, "ingest", str(raw_small))
    assert res.returncode == 0, res.stderr
    assert sum(line.startswith("loaded ") for line in res.stdout.splitlines()) == 2, res.stdout
    con = duckdb.connect(str(workspace / "duckpipe.duckdb"), read_only=True)
    try:
        after = dict(con.execute("SELECT table_name, sum(rows) FROM ingest_files GROUP BY ALL").fetchall())
        assert after == before
        assert con.execute("SELECT count(*) FROM orders").fetchone()[0] == before["orders"]
    finally:
        con.close()
    assert _cli(workspace, "doctor").returncode == 0


# ---------------------------------------------------------------- item 6: environment faults

def _mount_read_only(src: Path, dst: Path) -> bool:
    """A read-only bind mount of ``src`` at ``dst`` (root runs the tests, and chmod does not stop
    root's writes: only a read-only mount makes the kernel refuse them). False where not allowed."""
    import subprocess
    dst.mkdir()
    ok = subprocess.run(["mount", "--bind", str(src), str(dst)], capture_output=True).returncode == 0
    if ok and subprocess.run(["mount", "-o", "remount,bind,ro", str(dst)], capture_output=True).returncode != 0:
        subprocess.run(["umount", str(dst)], capture_output=True)
        ok = False
    return ok


def test_read_only_workspace_every_command_one_line_or_read_only_service(workspace, tmp_path, raw_small):
    ro = tmp_path / "ro"
    if not _mount_read_only(workspace, ro):
        pytest.skip("this machine does not allow a read-only bind mount (needs root and mount rights);"
                    " test_workspace_that_cannot_be_written_is_one_line covers the same translation")
    import subprocess
    try:
        with pytest.raises(OSError):
            (ro / "probe").write_text("x")               # the kernel refuses writes, even root's
        for cmd in (("ingest", str(raw_small)), ("units",), ("run",), ("report",), ("doctor", "--repair")):
            _one_clear_line(_cli(ro, *cmd), 2, f"workspace {ro} is not writable", "Read-only file system")
        # reading commands serve a read-only workspace (an archived study on a read-only share)
        st = _cli(ro, "status")
        assert st.returncode == 0 and "This is a bug" not in st.stderr, st.stderr
        doc = _cli(ro, "doctor")
        assert doc.returncode == 0, doc.stdout + doc.stderr
        assert f"warning: workspace {ro} is not writable" in doc.stdout and "all match the catalog" in doc.stdout
    finally:
        subprocess.run(["umount", str(ro)], capture_output=True)


def test_workspace_that_cannot_be_written_is_one_line(tmp_path, raw_small):
    """Without mount rights: a workspace path under a regular file, which no user can create."""
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    ws = blocker / "ws"
    _one_clear_line(_cli(ws, "ingest", str(raw_small)), 2, f"workspace {ws} is not a folder", "Not a directory")
    for cmd in ("units", "run", "status", "report"):
        _one_clear_line(_cli(ws, cmd), 2, "no workspace database")


@pytest.mark.parametrize("kind", ["file", "under-a-file", "missing-parent"])
def test_bad_temp_dir_is_one_line_for_every_command(workspace, tmp_path, raw_small, kind):
    afile = tmp_path / "afile"
    afile.write_text("x")
    temp, needle = {"file": (afile, "is a file, not a folder"),
                    "under-a-file": (afile / "sub", f"its parent folder {afile} does not exist (it is a file)"),
                    "missing-parent": (tmp_path / "nope" / "deeper" / "tmp", "parent folder")}[kind]
    for cmd in (("ingest", str(raw_small)), ("units",), ("run",), ("report",)):
        _one_clear_line(_cli(workspace, *cmd, "--temp-dir", str(temp), process=cmd == ("run",)), 2, f"temp directory {temp}", needle,
                        "--temp-dir")
    assert not (tmp_path / "nope").exists()            # no stray folders from a typo


@pytest.mark.parametrize("fraction", [0.0, 0.004, 0.6, 0.999])
def test_truncated_catalog_is_one_line_naming_it_and_the_way_back(workspace, raw_small, fraction):
    db = workspace / "duckpipe.duckdb"
    os.truncate(db, int(db.stat().st_size * fraction))
    for cmd in (("ingest", str(raw_small)), ("units",), ("run",), ("status",), ("report",), ("doctor",)):
        res = _cli(workspace, *cmd, process=cmd == ("run",))
        _one_clear_line(res, 2, f"the workspace database {db} is damaged", "restore it from a backup",
                        "run 'duckpipe ingest'")
        assert "skipped_unchanged" not in res.stdout


@pytest.mark.slow
def test_ctrl_c_during_ingest_exits_3_cleanly_and_resumes(tmp_path):
    import random
    import signal
    import subprocess
    import sys
    import time

    from conftest import REPO

    from duckpipe.synth import synth
    raw = tmp_path / "raw"
    synth(raw, securities=3, days=3, orders_per_unit=3000, seed=5)   # files big enough to stop mid-query
    clean = tmp_path / "clean"
    assert _cli(clean, "ingest", str(raw), "-q").returncode == 0
    rng = random.Random(12)
    codes = []
    for attempt in range(5):
        ws = tmp_path / f"ws{attempt}"
        proc = subprocess.Popen([sys.executable, "-m", "duckpipe", "ingest", str(raw), "--workspace", str(ws),
                                 *COMMON, "-q"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None:     # until the ingest holds the workspace
            try:
                if f'"pid": {proc.pid}' in (ws / "duckpipe.lock").read_text():
                    break
            except OSError:
                pass
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 2.5))
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        codes.append(proc.returncode)
        assert proc.returncode in (0, 3), err
        assert "This is a bug" not in err and "Traceback" not in err and "Query interrupted" not in err, err
        if proc.returncode == 3:
            assert "Error: interrupted" in err and "Run the same command again to resume" in err
        again = _cli(ws, "ingest", str(raw), "-q")
        assert again.returncode == 0, again.stderr
        assert _cli(ws, "doctor", "--full", "-q").returncode == 0
        q = "SELECT replace(path, $r, ''), rows FROM ingest_files ORDER BY 1"
        assert _catalog(ws, q, str(ws)) == _catalog(clean, q, str(clean))
    assert 3 in codes


def _catalog(ws: Path, sql: str, root: str):
    con = duckdb.connect(str(ws / "duckpipe.duckdb"), read_only=True)
    try:
        return [(p.split("/")[1], n) for p, n in con.execute(sql, {"r": root}).fetchall()]
    finally:
        con.close()


# ---------------------------------------------------------------- item 7 on the command line

@pytest.mark.parametrize("args,needles", [
    (("run", "--memory-limit", "0MB"), ("memory limit (command line)", "below the minimum of 64MB")),
    (("ingest", "--memory-limit", "1B"), ("memory limit (command line)", "below the minimum of 64MB")),
    (("run", "--threads", "0"), ("threads (command line)", "1 or more")),
    (("run", "--max-cpu", "0"), ("--max-cpu 0.0", "(0, 100]")),
    (("run", "--max-cpu", "150"), ("--max-cpu 150.0", "(0, 100]")),
    (("run", "--cool-seconds", "-1"), ("--cool-seconds -1.0", ">= 0")),
    (("run", "--cool-every", "-2"), ("--cool-every -2",)),
    (("run", "--cool-every", "2"), ("--cool-every 2: needs --cool-seconds above 0",)),
])
def test_out_of_range_options_are_one_line_exit_2(workspace, args, needles):
    res = duckpipe_inproc(*args, "--workspace", str(workspace), "-q")
    _one_clear_line(res, 2, *needles)


@pytest.mark.parametrize("toml,needles", [
    ('[settings]\nmemroy_limit = "1GB"\n', ("unknown key 'memroy_limit' in [settings]", "valid keys: memory_limit")),
    ("[bogus]\n", ("unknown section [bogus]", "valid sections")),
    ('[[scenarios]]\nname = "a"\ndarkshare = 1\n', ("unknown key(s) darkshare", "valid keys: name, dark_share")),
    ('[[scenarios]]\nname = "a"\ndark_share = [1]\n', ("dark_share must be a number between 0 and 1",)),
    ("parameters = 5\n", ("parameters must be a table",)),
    ('[[scenarios]]\nname = "a"\ndark_share = 1\nrest = "impact"\nimpact_bps = nan\n', ("impact_bps must be a finite number",)),
])
def test_bad_config_is_one_line_exit_2_for_every_command(workspace, toml, needles):
    (workspace / "duckpipe.toml").write_text(toml)
    for cmd in ("run", "status", "doctor"):
        run = duckpipe_cli if cmd == "run" else duckpipe_inproc
        _one_clear_line(run(cmd, "--workspace", str(workspace), "-q"), 2, "duckpipe.toml", *needles)
