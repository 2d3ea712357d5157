"""The unit engine (SPEC §4): checkpoint, exactly-once commits, failures, staleness, dry runs.

These use the tiny ``counts`` pipeline so that they test the engine and not the analysis.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re

import duckdb
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from duckpipe import api
from duckpipe.analysis import pipelines
from duckpipe.cli import app
from duckpipe.engine.planning import EST_BYTES_PER_ROW, group, plan
from duckpipe.engine.units import Unit, parse_selection
from duckpipe.errors import UsageError
from duckpipe.settings import resolve

runner = CliRunner()


def _settings(ws, **kw):
    return resolve(workspace=ws, memory_limit="1GB", threads=2, env={}, **kw)


def _units(ws) -> dict:
    con = duckdb.connect(str(ws / "duckpipe.duckdb"), read_only=True)
    try:
        rows = con.execute("SELECT security_code, date, status, attempts, run_id, error FROM units").fetchall()
    finally:
        con.close()
    return {(s, d): (st, a, r, e) for s, d, st, a, r, e in rows}


def _table(ws, sql):
    con = duckdb.connect(str(ws / "duckpipe.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _n_units(ws) -> int:
    return len(api.units(_settings(ws), pipeline="counts").rows)


def test_run_computes_every_unit_once_and_matches_the_store(workspace):
    n = _n_units(workspace)
    assert n >= 40     # 4 securities x 10 days, plus the previous-evening reload dates
    res = api.run(_settings(workspace), strategy="by-unit", pipeline="counts", quiet=True)
    assert res.done == n and not res.failed
    assert all(v[0] == "done" and v[1] == 1 for v in _units(workspace).values())
    got = _table(workspace, "SELECT security_code, date, order_rows, trade_rows FROM unit_counts ORDER BY 1, 2")
    want = _table(workspace, "SELECT o.security_code, o.date, count(*),"
                  " (SELECT count(*) FROM trades t WHERE t.security_code = o.security_code AND t.date = o.date)"
                  " FROM orders o GROUP BY ALL ORDER BY 1, 2")
    assert got == want
    again = api.run(_settings(workspace), strategy="by-unit", pipeline="counts", quiet=True)
    assert again.done == 0 and again.selected == n


@pytest.mark.parametrize("strategy", ["by-date", "by-week", "by-month", "auto"])
def test_strategies_give_identical_results(workspace, strategy):
    api.run(_settings(workspace), strategy=strategy, pipeline="counts", quiet=True)
    got = _table(workspace, "SELECT * FROM unit_counts ORDER BY security_code, date")
    api.run(_settings(workspace), strategy="by-unit", rerun="all", pipeline="counts", quiet=True)
    assert _table(workspace, "SELECT * FROM unit_counts ORDER BY security_code, date") == got
    assert len(got) == _n_units(workspace)


def test_plan_grains_and_auto_reason():
    units = [Unit(s, dt.date(2024, 9, 2) + dt.timedelta(days=d)) for d in range(0, 40) for s in (1, 2)]
    assert len(group(units, "by-unit")) == 80
    assert len(group(units, "by-date")) == 40
    assert len(group(units, "by-month")) == 2
    fixed = plan(units, "by-date", {u.key: 1000 for u in units}, 10**9)
    assert fixed.strategy == "by-date" and "40 batches of 2 units" in fixed.reason


def test_auto_packs_units_in_order_up_to_the_budget():
    from duckpipe.budget import split
    from duckpipe.engine.planning import PACK_FILL
    units = [Unit(s, dt.date(2024, 9, 2) + dt.timedelta(days=d)) for d in range(0, 40) for s in (3, 1, 2)]
    limit = 10**9
    max_rows = int(split(limit).executor * PACK_FILL) // EST_BYTES_PER_ROW
    small = plan(units, "auto", {u.key: 1000 for u in units}, limit)
    assert small.strategy == "packed" and len(small.batches) == 1 and "1 batches of 120 units" in small.reason
    per_unit = max_rows // 7                       # 7 units fill a batch: batches cross dates
    big = plan(units, "auto", {u.key: per_unit for u in units}, limit)
    assert [len(b) for b in big.batches] == [7] * 17 + [1]
    flat = [u for b in big.batches for u in b]
    assert flat == sorted(units, key=lambda u: (u.date, u.security_code))      # (date, security) order
    assert all(sum(big.input_rows[u.key] for u in b) <= max_rows for b in big.batches)
    assert "18 batches of 1-7 units" in big.reason
    huge = plan(units, "auto", {u.key: max_rows * 2 for u in units}, limit)   # a unit over the budget: alone
    assert len(huge.batches) == 120
    assert plan([], "auto", {}, limit).batches == []


def _failing_counts(bad: tuple[int, dt.date]):
    def compute(con, units, params, scenarios, timings=None):
        if bad in units:
            raise RuntimeError(f"boom in {bad[0]}")
        return pipelines.COUNTS.compute(con, units, params, scenarios, timings)
    return pipelines.Pipeline("counts", pipelines.COUNTS.templates, pipelines.COUNTS.result_tables, compute,
                              pipelines.COUNTS.catalog_template)


def test_failed_unit_is_recorded_others_complete_and_rerun_failed_retries_only_it(workspace, monkeypatch):
    first = sorted(_settings(workspace) and api.units(_settings(workspace), pipeline="counts").rows,
                   key=lambda r: r.position)
    bad = first[5].unit.key
    real_get = pipelines.get
    monkeypatch.setattr(pipelines, "get", lambda name: _failing_counts(bad) if name == "counts" else real_get(name))
    res = runner.invoke(app, ["run", "--workspace", str(workspace), "--pipeline", "counts", "--strategy", "by-date",
                              "--memory-limit", "1GB", "-q"])
    assert res.exit_code == 1, res.output
    states = _units(workspace)
    assert states[bad][0] == "failed" and "boom" in states[bad][3]
    assert sum(v[0] == "done" for v in states.values()) == len(states) - 1
    monkeypatch.setattr(pipelines, "get", real_get)
    before = {k: v for k, v in states.items() if k != bad}
    res = api.run(_settings(workspace), rerun="failed", pipeline="counts", quiet=True)
    assert res.done == 1 and not res.failed
    after = _units(workspace)
    assert after[bad][0] == "done" and after[bad][1] == 2
    assert {k: v for k, v in after.items() if k != bad} == before   # others untouched (same run id)


def test_template_edit_and_set_mark_units_stale(workspace, monkeypatch):
    api.run(_settings(workspace), pipeline="counts", quiet=True)
    assert {r.status for r in api.units(_settings(workspace), pipeline="counts").rows} == {"done"}
    # a different analysis parameter changes every unit's signature
    changed = _settings(workspace, sets=["qualifying_dealsources=1,44"])
    assert {r.status for r in api.units(changed, pipeline="counts").rows} == {"stale"}
    # editing a template makes its units stale; a run on one date reruns only that date
    from duckpipe import sqlrender
    real_text = sqlrender.template_text
    monkeypatch.setattr(sqlrender, "template_text", lambda name: real_text(name) + "\n-- edited\n")
    rows = api.units(_settings(workspace), pipeline="counts").rows
    assert {r.status for r in rows} == {"stale"}
    day = rows[0].unit.date
    on_day = sum(r.unit.date == day for r in rows)
    res = api.run(_settings(workspace), parse_selection(dates=day.isoformat()), pipeline="counts", quiet=True)
    assert res.done == on_day
    rows = api.units(_settings(workspace), pipeline="counts").rows
    assert {r.unit.date for r in rows if r.status == "done"} == {day}
    assert sum(r.status == "stale" for r in rows) == len(rows) - on_day


def _fingerprint(ws):
    out = {}
    for p in sorted(ws.rglob("*")):
        if p.is_file() and p.name != "duckpipe.lock":
            out[str(p.relative_to(ws))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def test_dry_run_changes_nothing(workspace):
    before = _fingerprint(workspace)
    res = runner.invoke(app, ["run", "--workspace", str(workspace), "--pipeline", "counts", "--dry-run",
                              "--strategy", "by-date"])
    assert res.exit_code == 0, res.output
    assert "strategy: by-date" in res.output and "SQL of the first batch" in res.output
    assert re.search(r"by-date \(chosen on the command line: \d+ batches of [\d-]+ units, largest [\d,]+ input rows",
                     res.output)                  # the chosen batches: count and sizes
    assert "FROM _batch_units" in res.output
    assert _fingerprint(workspace) == before


def test_fresh_needs_confirmation_then_recomputes(workspace):
    api.run(_settings(workspace), pipeline="counts", quiet=True)
    with pytest.raises(UsageError, match="--yes"):
        api.run(_settings(workspace), fresh=True, pipeline="counts", quiet=True)
    res = api.run(_settings(workspace), fresh=True, yes=True, pipeline="counts", quiet=True)
    n = _n_units(workspace)
    assert res.done == n
    assert _table(workspace, "SELECT count(*) FROM unit_counts") == [(n,)]


def test_hostile_inputs_are_refused_and_tables_intact(workspace):
    api.run(_settings(workspace), pipeline="counts", quiet=True)
    before = _table(workspace, "SELECT count(*) FROM units"), _table(workspace, "SELECT count(*) FROM unit_counts")
    for args in (["--securities", "1; DROP TABLE units"], ["--dates", "2024-01-01' OR 1=1"],
                 ["--set", "qualifying_dealsources=1); DROP TABLE units; --"],
                 ["--set", "session_window=10:00-16:00'; DELETE FROM units; --"],
                 ["--units", "1-3; DELETE FROM units"], ["--status", "done' OR '1'='1"]):
        res = runner.invoke(app, ["run", "--workspace", str(workspace), "--pipeline", "counts", *args])
        assert res.exit_code == 2, (args, res.output)
        assert res.output.startswith("Error: ") and "Traceback" not in res.output
    after = _table(workspace, "SELECT count(*) FROM units"), _table(workspace, "SELECT count(*) FROM unit_counts")
    n = _n_units(workspace)
    assert after == before == ([(n,)], [(n,)])


def test_units_filters_and_errors_on_the_cli(workspace):
    res = runner.invoke(app, ["units", "--workspace", str(workspace), "--pipeline", "counts", "--units", "1-3,40"])
    assert res.exit_code == 0, res.output
    assert f"4 of {_n_units(workspace)} units" in res.output
    res = runner.invoke(app, ["units", "--workspace", str(workspace), "--units", "3-1"])
    assert res.exit_code == 2 and res.output.strip().startswith("Error: --units")
    res = runner.invoke(app, ["units", "--workspace", str(workspace), "--securities", "4242"])
    assert res.exit_code == 2 and "unknown security 4242" in res.output
    res = runner.invoke(app, ["run", "--workspace", str(workspace), "--pipeline", "counts", "--dates", "1999-01-01"])
    assert res.exit_code == 0 and "nothing to do" in res.output


def test_second_writer_gets_a_clear_message(workspace):
    from duckpipe.db import WorkspaceLock
    with WorkspaceLock(workspace, "run"):
        res = runner.invoke(app, ["units", "--workspace", str(workspace)])
    assert res.exit_code == 2 and "a run (pid" in res.output and "is using this workspace" in res.output


def test_rows_per_unit_counts_each_table():
    from duckpipe.engine.executor import rows_per_unit
    d = dt.date(2024, 9, 2)
    t1 = pa.table({"security_code": [1, 1, 2], "date": [d, d, d]})
    t2 = pa.table({"security_code": [1], "date": [d]})
    assert rows_per_unit({"a": t1, "b": t2}) == {(1, d): 3, (2, d): 1}


def test_stand_alone_job_equals_the_local_executor(workspace, tmp_path):
    """compute_job (what a remote worker runs: store files only, no catalog) writes the same result
    files as the local executor, and returns only their metadata."""
    import dataclasses

    import duckdb as _duckdb

    from duckpipe import store
    from duckpipe.engine.executor import BatchJob, LocalExecutor, compute_job
    s = _settings(workspace)
    unit = api.units(s).rows[5].unit
    con = _duckdb.connect(str(s.db_path), read_only=True)
    files = store.store_files(con, tables=["orders", "trades", "nbbo"], dates=[unit.date])
    con.close()
    job = BatchJob(1, (unit.key,), files, s.params, s.scenarios, "analysis", "512MB", 1, str(workspace / "tmp"),
                   workspace=str(tmp_path / "a"))
    alone = compute_job(job)
    local = LocalExecutor("512MB", 1, workspace / "tmp")
    try:
        here = local.compute(dataclasses.replace(job, workspace=str(tmp_path / "b")))
    finally:
        local.close()
    assert alone.rows_per_unit == here.rows_per_unit and alone.rows_per_unit[unit.key] > 0
    assert [(f.table, f.date, f.path, f.rows) for f in alone.files] == [(f.table, f.date, f.path, f.rows)
                                                                      for f in here.files]
    assert {f.table for f in here.files} >= {"order_states", "sweeps"}
    assert sum(f.rows for f in here.files) == alone.rows_per_unit[unit.key]
    assert not list((tmp_path / "a").rglob("*.tmp"))
    mem = _duckdb.connect()
    for f in here.files:                           # same rows, in any order
        a = mem.execute(f"SELECT * FROM '{tmp_path / 'a' / f.path}' ORDER BY ALL").fetchall()
        b = mem.execute(f"SELECT * FROM '{tmp_path / 'b' / f.path}' ORDER BY ALL").fetchall()
        assert a == b and len(a) == f.rows, f.path
