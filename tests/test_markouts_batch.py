"""The markout step's result is a temp view fetched straight into Arrow (issue 11, speed): two
batches on one connection give the same rows as each alone, and a batch leaves no temp table or
view of its own behind (the next batch on a long-lived executor connection starts clean)."""
from __future__ import annotations

import math
import random

from oracle_data import batch_connection, make_views, random_unit
from test_analysis import D1, D2

from duckpipe.analysis import steps as analysis
from duckpipe.settings import DEFAULT_SCENARIOS


def _rows(table) -> list[tuple]:
    return sorted(tuple(r.values()) for r in table.to_pylist())


def _same(a, b) -> bool:
    """Equal, floats to 1e-12 relative (DuckDB's parallel sums add in any order)."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12)
    return a == b


def test_batches_on_one_connection_leave_nothing_and_agree():
    rng = random.Random(11)
    orders, trades, nbbo, units = [], [], [], []
    for i, (sec, d) in enumerate([(1, D1), (2, D1), (1, D2)]):
        o, t, q = random_unit(rng, sec, d, 60, id_offset=i)
        orders, trades, nbbo = orders + o, trades + t, nbbo + q
        units.append((sec, d))
    con = batch_connection()
    make_views(con, orders, trades, nbbo)
    before = set(con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary"
                             " UNION ALL SELECT view_name FROM duckdb_views() WHERE temporary").fetchall())
    first = analysis.compute_batch(con, units, {}, DEFAULT_SCENARIOS)
    after = set(con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary"
                            " UNION ALL SELECT view_name FROM duckdb_views() WHERE temporary").fetchall())
    assert after == before
    assert first["markouts"].num_rows > 0
    again = analysis.compute_batch(con, units, {"markout_horizons": [5, 60]}, DEFAULT_SCENARIOS)
    assert sorted(set(again["markouts"].column("horizon_s").to_pylist())) == [5, 60]
    third = analysis.compute_batch(con, units, {}, DEFAULT_SCENARIOS)
    assert _rows(third["markouts"]) == _rows(first["markouts"])      # per-row values: exact
    a, b = _rows(third["liquidity"]), _rows(first["liquidity"])
    assert len(a) == len(b) and all(_same(x, y) for ra, rb in zip(a, b) for x, y in zip(ra, rb))


def test_small_batches_plan_their_as_of_lookups_as_asof_joins():
    """A batch connection joins a few fills to the quotes with the ASOF operator, not DuckDB's
    small-input rewrite (a nested loop over every quote plus a grouping) that cost by-unit batches
    ~50 ms each in the markouts alone."""
    con = batch_connection()
    con.execute("CREATE TABLE fills AS SELECT range * 3 AS t FROM range(5)")
    con.execute("CREATE TABLE quotes AS SELECT range * 2 AS t, range AS mid FROM range(5)")
    plan = con.execute("EXPLAIN SELECT f.t, q.mid FROM fills f ASOF LEFT JOIN quotes q ON f.t >= q.t"
                       ).fetchall()[0][1]
    assert "Asof Join" in plan and "Nested Loop Join" not in plan, plan
