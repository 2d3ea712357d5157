"""One-unit batches held and committed a few at a time (local by-unit runs, engine/runner.py):
their rows are written as one file per table and date for up to HOLD_UNITS units, committed in
one transaction with their checkpoint rows; Ctrl-C commits what is computed."""
from __future__ import annotations

import math

import duckdb
import pytest
from conftest import copy_workspace

from duckpipe import api, results
from duckpipe.engine import guards, runner
from duckpipe.errors import Interrupted
from duckpipe.settings import resolve


def _settings(ws):
    return resolve(workspace=ws, memory_limit="1GB", threads=2, env={})


def _rows(ws, sql: str) -> list[tuple]:
    con = duckdb.connect(str(ws / "duckpipe.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_by_unit_writes_a_few_units_to_a_file_and_commits_them_together(workspace, tmp_path, monkeypatch):
    reference = copy_workspace(workspace, tmp_path / "reference")
    api.run(_settings(reference), strategy="by-date", pipeline="counts", quiet=True)
    monkeypatch.setattr(results, "COMPACT_MIN_FILES", 10**9)      # the files as the batches left them
    monkeypatch.setattr(results, "COMPACT_SMALL_BYTES", 0)
    api.run(_settings(workspace), strategy="by-unit", pipeline="counts", quiet=True)

    units, batches = _rows(workspace, "SELECT count(*), count(DISTINCT batch_id) FROM units WHERE status = 'done'")[0]
    assert units == batches >= 3 * runner.HOLD_UNITS                 # one batch per unit
    per_file = [n for (n,) in _rows(workspace, "SELECT count(*) FROM result_files GROUP BY path")]
    assert sum(per_file) == units and max(per_file) <= runner.HOLD_UNITS
    assert len(per_file) < units / 2                                  # not one file per unit
    # one commit per HOLD_UNITS computed units (result_parts.batch_id: the first batch of the commit)
    commits = _rows(workspace, "SELECT count(DISTINCT batch_id) FROM result_parts")[0][0]
    assert commits == math.ceil(units / runner.HOLD_UNITS)
    query = "SELECT * FROM unit_counts ORDER BY security_code, date"
    assert _rows(workspace, query) == _rows(reference, query)


def test_ctrl_c_commits_the_held_units_and_leaves_the_rest_pending(workspace, monkeypatch):
    calls = []
    real = guards.Guards.between_batches

    def ctrl_c_after_three(self):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self)

    monkeypatch.setattr(guards.Guards, "between_batches", ctrl_c_after_three)
    with pytest.raises(Interrupted):
        api.run(_settings(workspace), strategy="by-unit", pipeline="counts", quiet=True)
    states = dict(_rows(workspace, "SELECT status, count(*) FROM units GROUP BY ALL"))
    # three units were computed and held (fewer than HOLD_UNITS): Ctrl-C commits them, the batch
    # still in flight rolls back
    assert 3 < runner.HOLD_UNITS and states.get("done") == 3 and "running" not in states
    assert states.get("pending", 0) == sum(states.values()) - 3
    assert _rows(workspace, "SELECT count(*) FROM unit_counts")[0][0] == 3
    api.run(_settings(workspace), strategy="by-unit", pipeline="counts", quiet=True)
    assert dict(_rows(workspace, "SELECT status, count(*) FROM units GROUP BY ALL")) == {"done": sum(states.values())}


def test_held_rows_are_written_while_the_run_goes_on(workspace, monkeypatch):
    """The engine's writer thread writes a flush's files; the loop keeps taking computed batches
    meanwhile, and commits the files once written."""
    import threading
    write = results.write_batch
    writing, held_during_write, writers = threading.Event(), [], set()
    hold = runner.Engine.hold

    def slow_write(*a, **k):
        first = not writers
        writers.add(threading.current_thread().name)
        writing.set()
        try:
            for _ in range(300 if first else 0):   # until the loop has taken two more batches (at most 30 s)
                if len(held_during_write) >= 2:
                    break
                threading.Event().wait(0.1)
            return write(*a, **k)
        finally:
            writing.clear()

    def spy_hold(self, batch, next_units):
        if writing.is_set():
            held_during_write.append(batch.batch_id)
        return hold(self, batch, next_units)

    monkeypatch.setattr(results, "write_batch", slow_write)
    monkeypatch.setattr(runner.Engine, "hold", spy_hold)
    monkeypatch.setattr(results, "COMPACT_MIN_FILES", 10**9)
    monkeypatch.setattr(results, "COMPACT_SMALL_BYTES", 0)
    api.run(_settings(workspace), strategy="by-unit", pipeline="counts", quiet=True)
    assert len(held_during_write) >= 2 and threading.current_thread().name not in writers
    units = _rows(workspace, "SELECT count(*) FROM units")[0][0]
    assert _rows(workspace, "SELECT count(*) FROM units WHERE status = 'done'")[0][0] == units
    per_file = [n for (n,) in _rows(workspace, "SELECT count(*) FROM result_files GROUP BY path")]
    assert sum(per_file) == units and max(per_file) <= runner.HOLD_UNITS


def test_the_byte_cap_waits_for_the_write_in_progress_instead_of_writing_each_unit(workspace, monkeypatch):
    """Units of 0.6 of the byte cap, writes slower than a unit: every set written holds two units.
    (Flushing whenever held + writing reached the cap wrote one file per unit after the first.)"""
    import time
    hold, write = runner.Engine.hold, results.write_batch

    def sized_hold(self, batch, next_units):
        if runner.HOLD_BYTES == 10**12:                 # the first unit sets the cap: 1/0.6 of a unit's rows
            monkeypatch.setattr(runner, "HOLD_BYTES", int(sum(t.nbytes for t in batch.out.tables.values()) / 0.6))
        return hold(self, batch, next_units)

    def slow_write(*a, **k):
        time.sleep(0.3)
        return write(*a, **k)

    monkeypatch.setattr(runner, "HOLD_BYTES", 10**12)
    monkeypatch.setattr(runner.Engine, "hold", sized_hold)
    monkeypatch.setattr(results, "write_batch", slow_write)
    api.run(_settings(workspace), strategy="by-unit", pipeline="counts", quiet=True)
    per_commit = [n for (n,) in _rows(workspace, "SELECT count(DISTINCT security_code || '/' || date) FROM result_files"
                                                 " GROUP BY batch_id ORDER BY batch_id")]
    assert len(per_commit) >= 8 and all(n == 2 for n in per_commit[:-1]), per_commit
    assert sum(per_commit) == _rows(workspace, "SELECT count(*) FROM units WHERE status = 'done'")[0][0]


def test_no_batch_is_marked_running_before_the_executor_takes_it(workspace, monkeypatch):
    """Two batches in flight, the next one taken before an output is handed back: once a batch is
    held, the running units are the held ones and the two computing, no batch waiting its turn."""
    hold, seen = runner.Engine.hold, []

    def spy_hold(self, batch, next_units):
        hold(self, batch, next_units)
        running = self.con.execute("SELECT count(*) FROM units WHERE status = 'running'").fetchone()[0]
        seen.append(running - self.held_units)

    monkeypatch.setattr(runner.Engine, "hold", spy_hold)
    api.run(_settings(workspace), strategy="by-unit", pipeline="counts", quiet=True)
    assert len(seen) >= 10 and max(seen) == 2, seen


def test_a_failing_write_of_held_units_stops_the_run_and_blames_no_unit(workspace, monkeypatch):
    def disk_full(*a, **k):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(results, "write_batch", disk_full)              # only the engine's flush writes here
        with pytest.raises(OSError, match="No space left"):
            api.run(_settings(workspace), strategy="by-unit", pipeline="counts", quiet=True)
    states = dict(_rows(workspace, "SELECT status, count(*) FROM units GROUP BY ALL"))
    # nothing committed, and no unit left running (the next start would count it failed)
    assert list(states) == ["pending"]
    assert _rows(workspace, "SELECT status FROM runs") == [("error",)]
    api.run(_settings(workspace), strategy="by-unit", pipeline="counts", quiet=True)
    assert dict(_rows(workspace, "SELECT status, count(*) FROM units GROUP BY ALL")) == {"done": sum(states.values())}
    assert _rows(workspace, "SELECT count(*) FROM units WHERE attempts > 1")[0][0] == 0   # none recorded failed


def test_held_rows_are_written_at_the_byte_cap_too(workspace, monkeypatch):
    monkeypatch.setattr(runner, "HOLD_BYTES", 1)                 # every batch's rows exceed it: no holding
    monkeypatch.setattr(results, "COMPACT_MIN_FILES", 10**9)
    monkeypatch.setattr(results, "COMPACT_SMALL_BYTES", 0)
    api.run(_settings(workspace), strategy="by-unit", pipeline="counts", quiet=True)
    units, commits = _rows(workspace, "SELECT (SELECT count(*) FROM units), count(DISTINCT batch_id) FROM result_parts")[0]
    assert commits == units                                       # one commit per one-unit batch


@pytest.mark.parametrize("strategy, held", [("by-unit", True), ("by-date", False)])
def test_only_local_by_unit_batches_hand_their_rows_back(workspace, monkeypatch, strategy, held):
    from duckpipe.engine import executor
    seen = []
    real = executor.compute_on

    def spy(con, job, views_for=None):
        out = real(con, job, views_for)
        seen.append((job.write_results, out.tables is not None, bool(out.files)))
        return out

    monkeypatch.setattr(executor, "compute_on", spy)
    api.run(_settings(workspace), strategy=strategy, pipeline="counts", quiet=True)
    assert seen and all(s == (not held, held, not held) for s in seen), seen


def test_held_rows_are_committed_before_a_pause(workspace, monkeypatch):
    from duckpipe.engine.guards import GuardConfig
    monkeypatch.setattr(results, "COMPACT_MIN_FILES", 10**9)
    monkeypatch.setattr(results, "COMPACT_SMALL_BYTES", 0)
    cooling = GuardConfig(max_cpu=100.0, cool_every=3, cool_seconds=0.01)     # a pause every third batch
    api.run(_settings(workspace), strategy="by-unit", pipeline="counts", quiet=True, guards=cooling)
    per_commit = [n for (n,) in _rows(workspace, "SELECT count(DISTINCT security_code || '/' || date) FROM result_files"
                                                 " GROUP BY batch_id")]
    # commits of at most three units (the held ones at each pause), never HOLD_UNITS
    assert max(per_commit) <= 3 < runner.HOLD_UNITS and sum(per_commit) == sum(_rows(workspace,
                                                                                   "SELECT count(*) FROM units")[0])
