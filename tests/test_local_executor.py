"""The local executor with two batches in flight (by-unit runs): each job computed once, on its
own connection, two at a time, and a by-unit run's results equal a packed run's."""
from __future__ import annotations

import dataclasses
import threading
import time

import duckdb
import pytest
from conftest import copy_workspace, duckpipe_inproc
from test_resilience import TABLES, _same, _snapshot

from duckpipe import store
from duckpipe.engine import executor as ex
from duckpipe.engine.executor import BatchJob, LocalExecutor


def _jobs(ws, n: int, tmp_path) -> list[BatchJob]:
    """``n`` one-unit jobs of the counts pipeline over the workspace's store, on different dates."""
    con = duckdb.connect(str(ws / "duckpipe.duckdb"), read_only=True)
    try:
        units = con.execute("SELECT DISTINCT security_code, date FROM store_partitions WHERE table_name = 'orders'"
                            " ORDER BY date, security_code").fetchall()
        files = store.store_files(con, tables=["orders", "trades"], root=ws)
    finally:
        con.close()
    picked = units[:: max(1, len(units) // n)][:n]
    return [BatchJob(i, ((int(s), d),), {t: [p for p in v if f"date={d.isoformat()}" in p] for t, v in files.items()},
                     {}, [], "counts", "512MB", 2, str(tmp_path / "tmp"), workspace=str(tmp_path / "out"))
            for i, (s, d) in enumerate(picked, 1)]


def test_two_in_flight_computes_each_job_once_two_at_a_time(workspace, tmp_path, monkeypatch):
    jobs = _jobs(workspace, 6, tmp_path)
    running, most, lock = 0, 0, threading.Lock()
    compute_on = ex.compute_on

    def watched(con, job, views_for=None):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        try:
            time.sleep(0.05)                    # long enough for the other thread to start its job
            return compute_on(con, job, views_for)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(ex, "compute_on", watched)
    local = LocalExecutor("512MB", 2, tmp_path / "tmp", in_flight=2)
    try:
        got = list(local.run_jobs(iter(jobs)))
    finally:
        local.close()
    assert most == 2
    assert sorted(j.batch_id for j, _ in got) == [j.batch_id for j in jobs]
    for job, out in got:                        # each output is its own job's unit (own views, own dates)
        assert not isinstance(out, BaseException), out
        assert list(out.rows_per_unit) == list(job.units)


def test_the_next_job_computes_while_the_caller_holds_an_output(workspace, tmp_path, monkeypatch):
    """The engine commits (or writes held results) between outputs: both connections stay busy then."""
    jobs = _jobs(workspace, 4, tmp_path)
    started: list[int] = []
    third = threading.Event()
    compute_on = ex.compute_on

    def watched(con, job, views_for=None):
        started.append(job.batch_id)
        if len(started) == 3:
            third.set()
        return compute_on(con, job, views_for)

    monkeypatch.setattr(ex, "compute_on", watched)
    local = LocalExecutor("512MB", 2, tmp_path / "tmp", in_flight=2)
    try:
        outputs = local.run_jobs(iter(jobs))
        first = next(outputs)                    # the caller now "commits" and does not come back yet
        assert third.wait(30), f"only {started} started while the caller held an output"
        rest = list(outputs)
    finally:
        local.close()
    assert sorted(j.batch_id for j, _ in [first, *rest]) == [j.batch_id for j in jobs]


def test_by_unit_runs_two_batches_at_once_with_the_packed_results(ran_template, tmp_path):
    ws = copy_workspace(ran_template, tmp_path / "ws")
    want = _snapshot(ran_template, TABLES["analysis"])
    res = duckpipe_inproc("run", "--workspace", str(ws), "--strategy", "by-unit", "--rerun", "all", "--units", "1-12",
                          "-q", "--memory-limit", "1GB", "--threads", "2")       # 12 units again, two at a time
    assert res.returncode == 0, res.stderr
    con = duckdb.connect(str(ws / "duckpipe.duckdb"), read_only=True)
    try:
        run_id, executor = con.execute("SELECT run_id, executor FROM runs ORDER BY started_at DESC LIMIT 1").fetchall()[0]
        done_in_run = con.execute("SELECT count(*) FROM units WHERE run_id = $r AND status = 'done'",
                                  {"r": run_id}).fetchall()[0][0]
    finally:
        con.close()
    assert '"in_flight": 2' in executor
    assert done_in_run == 12
    got = _snapshot(ws, TABLES["analysis"])
    for table in want:
        assert len(got[table]) == len(want[table]), table
        assert all(_same(a, b) for a, b in zip(got[table], want[table])), table


def test_close_waits_for_a_batch_still_in_flight(workspace, tmp_path, monkeypatch):
    """A caller that stops after the first output (Ctrl-C, an error) and closes the executor
    before the generator is closed: the other batch is stopped and waited for, not left running
    on a closed connection."""
    jobs = _jobs(workspace, 3, tmp_path)
    compute_on = ex.compute_on
    ended = []

    def slow(con, job, views_for=None):
        try:
            if job.batch_id != jobs[0].batch_id:
                time.sleep(0.5)                 # still running when the caller closes
            return compute_on(con, job, views_for)
        finally:
            ended.append(job.batch_id)          # computed or interrupted: either way, over

    monkeypatch.setattr(ex, "compute_on", slow)
    local = LocalExecutor("512MB", 2, tmp_path / "tmp", in_flight=2)
    outputs = local.run_jobs(iter(jobs))
    first_job, first = next(outputs)
    assert first_job.batch_id == jobs[0].batch_id and not isinstance(first, BaseException)
    local.close()                               # the generator is still open here
    assert jobs[1].batch_id in ended            # the batch in flight ended before the connections closed
    outputs.close()                             # and the generator closes cleanly after


def test_a_job_without_a_workspace_writes_nothing_into_the_current_directory(workspace, tmp_path, monkeypatch):
    job = dataclasses.replace(_jobs(workspace, 1, tmp_path)[0], workspace=None)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="no workspace"):
        ex.compute_job(job)
    assert not (tmp_path / "results").exists()
