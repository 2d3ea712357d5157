"""Incremental aggregates and statistics (SPEC §5.9): after one unit changes, the post-run stage
rebuilds that unit's partials only, and every agg_*/ts_*/stats_tests table equals a from-scratch
rebuild of the same workspace."""
from __future__ import annotations

import datetime as dt
import math
import shutil

import duckdb
import pytest
from conftest import duckpipe_inproc

from duckpipe.analysis import markouts, partials
from duckpipe.analysis.aggregate import AGGREGATES, build_aggregates
from duckpipe.analysis.stats import compute_stats
from duckpipe.settings import DEFAULT_SCENARIOS, Settings

pytestmark = pytest.mark.slow
POST_RUN = [*AGGREGATES, *markouts.AGG_TABLES, "stats_tests"]
PARTIAL_TABLES = [t for _, tables in partials.FAMILIES.values() for t in tables]
ARGS = ("--memory-limit", "1GB", "--threads", "2", "-q")


def _snapshot(con, tables) -> dict[str, list[tuple]]:
    return {t: sorted(con.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in tables}


def _state(ws) -> dict[tuple, tuple]:
    con = duckdb.connect(str(ws / "duckpipe.duckdb"), read_only=True)
    try:
        return {r[:3]: r[3:] for r in con.execute(
            "SELECT family, security_code, date, token, refresh_id FROM agg_partial_units").fetchall()}
    finally:
        con.close()


def _same(a, b, rel: float) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y, rel) for x, y in zip(a, b))
    return a == b


def _incremental_vs_scratch(ws, tmp_path):
    """(incremental tables, from-scratch tables, incremental partials, from-scratch partials):
    the from-scratch rebuild runs on a copy of the workspace with every partial dropped."""
    scratch = tmp_path / "scratch"
    shutil.copytree(ws, scratch, ignore=shutil.ignore_patterns("duckpipe.lock", "status.json"))
    con = duckdb.connect(str(ws / "duckpipe.duckdb"), read_only=True)
    inc, inc_p = _snapshot(con, POST_RUN), _snapshot(con, PARTIAL_TABLES)
    con.close()
    con = duckdb.connect(str(scratch / "duckpipe.duckdb"))
    for t in [*PARTIAL_TABLES, "agg_partial_units", "agg_partial_families", *POST_RUN]:
        con.execute(f'DROP TABLE "{t}"')
    s = Settings(workspace=scratch, memory_limit="1GB", threads=2, temp_dir=scratch / "tmp",
                 params={"size_buckets": [100, 1000, 10000]}, scenarios=DEFAULT_SCENARIOS)
    build_aggregates(con, s)
    compute_stats(con, s)
    full, full_p = _snapshot(con, POST_RUN), _snapshot(con, PARTIAL_TABLES)
    con.close()
    return inc, full, inc_p, full_p


def _assert_rebuilt_only(before, after, unit):
    families = set(partials.FAMILIES)
    changed = {k for k in after if before.get(k) != after[k]}
    assert {k[0] for k in changed} == families, changed          # every family, and
    assert {k[1:] for k in changed} == {unit}, changed             # only that unit
    assert set(after) == set(before)
    newest = max(v[1] for v in before.values())
    assert all(after[k][1] > newest for k in changed)               # built by this run's refresh


def _assert_equal(inc, full, inc_p, full_p):
    """Keys, counts and integer sums identical; floating-point sums to 1e-12 relative (DuckDB's
    parallel sums and windows add in a thread-dependent order: SPEC §4 allows 1e-9), and
    squared deviations of constant cells both within 1e-12 of zero (rounding noise)."""
    for t in [*PARTIAL_TABLES, *POST_RUN]:
        got, want = (inc_p, full_p) if t in PARTIAL_TABLES else (inc, full)
        assert len(got[t]) == len(want[t]) and len(want[t]) > 0, t
        assert all(_same(x, y, 1e-12) for x, y in zip(got[t], want[t])), t


def _unit_at(ws, position: int) -> tuple:
    con = duckdb.connect(str(ws / "duckpipe.duckdb"), read_only=True)
    try:
        return con.execute("SELECT security_code, date FROM units ORDER BY date, security_code"
                           " LIMIT 1 OFFSET $o", {"o": position - 1}).fetchone()
    finally:
        con.close()


def test_rerun_of_one_unit_rebuilds_its_partials_only(ran_workspace, tmp_path):
    workspace = ran_workspace                                     # every unit done, partials built
    before = _state(workspace)
    assert before
    res = duckpipe_inproc("run", "--workspace", str(workspace), "--rerun", "all", "--units", "7", *ARGS)
    assert res.returncode == 0, res.stderr
    _assert_rebuilt_only(before, _state(workspace), _unit_at(workspace, 7))
    _assert_equal(*_incremental_vs_scratch(workspace, tmp_path))


def _shift_quotes(path, security: int) -> int:
    """Lower every quote of ``security`` in one nbbo file by 10 price units: new mids, one unit."""
    lines = path.read_text().splitlines(keepends=True)
    head = lines[0].rstrip("\r\n").split(",")
    sec, bid, offer = head.index("orderbookid"), head.index("bidprice"), head.index("offerprice")
    n = 0
    for i, line in enumerate(lines[1:], 1):
        f = line.rstrip("\r\n").split(",")
        if f[sec] == str(security):
            f[bid], f[offer] = str(int(f[bid]) - 10), str(int(f[offer]) - 10)
            lines[i] = ",".join(f) + "\n"
            n += 1
    path.write_text("".join(lines))
    return n


def test_changed_input_of_one_unit_rebuilds_its_partials_only(tmp_path, raw_small):
    raw, ws = tmp_path / "raw", tmp_path / "ws"
    shutil.copytree(raw_small, raw)
    assert duckpipe_inproc("ingest", str(raw), "--workspace", str(ws), *ARGS).returncode == 0
    assert duckpipe_inproc("run", "--workspace", str(ws), "--strategy", "by-date", *ARGS).returncode == 0
    con = duckdb.connect(str(ws / "duckpipe.duckdb"), read_only=True)
    before, old = _state(ws), _snapshot(con, POST_RUN)                  # the tables before the change
    con.close()
    nbbo = sorted((raw / "nbbo").iterdir())[3]
    stamp = nbbo.name.split("_")[1]                                   # synth_YYYYMMDD_nbbo.csv
    day = dt.date(int(stamp[:4]), int(stamp[4:6]), int(stamp[6:8]))
    security = _unit_at(ws, 1)[0]
    assert _shift_quotes(nbbo, security) > 0
    assert duckpipe_inproc("ingest", str(raw), "--workspace", str(ws), *ARGS).returncode == 0
    res = duckpipe_inproc("run", "--workspace", str(ws), "--strategy", "by-date", *ARGS)
    assert res.returncode == 0, res.stderr
    _assert_rebuilt_only(before, _state(ws), (security, day))
    inc, full, inc_p, full_p = _incremental_vs_scratch(ws, tmp_path / "b")
    _assert_equal(inc, full, inc_p, full_p)
    # the change reached the aggregates that read the quotes (markouts at t + h, liquidity); an
    # exact != also holds for tables that differ only in the last bits of a float sum (threads
    # add in any order), so the figures must differ beyond rounding
    for table in ("agg_markouts", "agg_liquidity"):
        assert not _same(inc[table], old[table], 1e-9), table

