"""Aggregates (SPEC §5.9) on a tiny hand-built dataset with every value worked out by hand.

Units: (1, D1) done, (2, D1) done, (1, D2) failed. Sweeps of done units:

    order sec group filled vwap  cost_bps fill  part hour bucket     dark (matched, set)
    1     1   G1    100    2000   2.0     1.0   11   10   100-1000   100 offered, 60, A
    2     1   G2     50    2100   4.0     0.5   11   10   <100       -
    3     1   G3      0    NULL   NULL    0.0   12   11   <100       -
    4     2   G1    200    1000  -1.0     1.0   12   14   100-1000   200 offered, 0, B

Other Centre Point orders: 10 (sec 1, part 12, hour 11, 1000-10000), 20 (sec 2, part 11,
hour 15, <100). savings_bps (unlimited, limited_50, price_impact): order 1 (1, .5, -.5),
order 2 (3, 1.5, 0), order 4 (-2, -1, -3). The failed unit holds order 5 (G1, 999 @ 5000,
set A 999 matched, savings 100) and order 50: none of it may appear anywhere.
"""
from __future__ import annotations

import math

import pytest
from test_stats import D1, D2, insert, make_catalog, set_units, settings

from duckpipe.analysis.aggregate import AGGREGATES, build_aggregates, scenario_columns
from duckpipe.errors import DuckpipeError
from duckpipe.settings import DEFAULT_SCENARIOS

BUCKET_IDX = {"<100": 0, "100-1000": 1, "1000-10000": 2}
SAVINGS = {1: (1.0, 0.5, -0.5), 2: (3.0, 1.5, 0.0), 4: (-2.0, -1.0, -3.0), 5: (100.0, 100.0, 100.0)}


def load(con) -> None:
    set_units(con, [(1, D1, "done"), (2, D1, "done"), (1, D2, "failed")])
    u1, u2, bad = ({"security_code": 1, "date": D1}, {"security_code": 2, "date": D1},
                   {"security_code": 1, "date": D2})

    def sweep(u, oid, g, q, vwap, cost, fill, part, hour, bucket):
        return {**u, "order_id": oid, "group_id": g, "qualifying": g == 1, "filled_quantity": q,
                "vwap": vwap, "filled_value": None if vwap is None else int(q * vwap), "arrival_cost_bps": cost, "fill_ratio": fill,
                "participantid": part, "arrival_hour": hour, "size_bucket": bucket,
                "size_bucket_idx": BUCKET_IDX[bucket]}
    sweeps = [sweep(u1, 1, 1, 100, 2000.0, 2.0, 1.0, 11, 10, "100-1000"),
              sweep(u1, 2, 2, 50, 2100.0, 4.0, 0.5, 11, 10, "<100"),
              sweep(u1, 3, 3, 0, None, None, 0.0, 12, 11, "<100"),
              sweep(u2, 4, 1, 200, 1000.0, -1.0, 1.0, 12, 14, "100-1000"),
              sweep(bad, 5, 1, 999, 5000.0, 50.0, 1.0, 11, 10, "<100")]
    insert(con, "sweeps", sweeps)
    keys = ("security_code", "date", "order_id", "participantid", "arrival_hour", "size_bucket",
            "size_bucket_idx")
    orders = [{k: s[k] for k in keys} for s in sweeps] + [
        {**u1, "order_id": 10, "participantid": 12, "arrival_hour": 11, "size_bucket": "1000-10000",
         "size_bucket_idx": 2},
        {**u2, "order_id": 20, "participantid": 11, "arrival_hour": 15, "size_bucket": "<100",
         "size_bucket_idx": 0},
        {**bad, "order_id": 50, "participantid": 11, "arrival_hour": 15, "size_bucket": "<100"}]
    insert(con, "order_states", orders)
    insert(con, "dark_sweeps", [
        {**u1, "order_id": 1, "offered_quantity": 100, "matched_quantity": 60, "sim_fill_ratio": 0.6, "set_label": "A"},
        {**u2, "order_id": 4, "offered_quantity": 200, "matched_quantity": 0, "sim_fill_ratio": 0.0, "set_label": "B"},
        {**bad, "order_id": 5, "offered_quantity": 999, "matched_quantity": 999, "sim_fill_ratio": 1.0, "set_label": "A"}])
    unit_of = {1: u1, 2: u1, 4: u2, 5: bad}
    insert(con, "scenario_costs", [
        {**unit_of[oid], "order_id": oid, "scenario": s["name"], "savings_bps": v}
        for oid, values in SAVINGS.items() for s, v in zip(DEFAULT_SCENARIOS, values)])


@pytest.fixture
def con():
    c = make_catalog()
    load(c)
    yield c
    c.close()


def table(con, name: str) -> list[dict]:
    cur = con.execute(f"SELECT * FROM {name}")
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def check(row: dict, **expected) -> None:
    for col, want in expected.items():
        got = row[col]
        if isinstance(want, float) and got is not None:
            assert math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-12), (col, got, want)
        else:
            assert got == want, (col, got, want)


def test_global_summary_by_hand(con, tmp_path):
    rows = build_aggregates(con, settings(tmp_path))
    assert {t: rows[t] for t in AGGREGATES} == {"agg_by_security": 2, "agg_by_date": 1, "agg_by_participant": 2,
                    "agg_by_hour": 4, "agg_by_size": 3, "agg_global": 1, "ts_daily": 1,
                    "ts_hourly": 4}
    [g] = table(con, "agg_global")
    check(g, cp_orders=6, sweeps=4, g1_sweeps=2, g2_sweeps=1, g3_sweeps=1, qualifying_sweeps=2,
          filled_quantity=350, filled_value_aud=505.0, vwap=505_000 / 350,
          mean_arrival_cost_bps=5 / 3, mean_fill_ratio=0.625, sim_offered_quantity=300,
          sim_matched_quantity=60, mean_sim_fill_ratio=0.3, set_a_sweeps=1, set_b_sweeps=1,
          savings_bps_unlimited=2 / 3, savings_bps_limited_50=1 / 3,
          savings_bps_price_impact=-3.5 / 3)
    # by date (and ts_daily): the failed D2 unit leaves no row; D1 is the global summary
    for name in ("agg_by_date", "ts_daily"):
        [d] = table(con, name)
        assert d["date"] == D1 and {k: v for k, v in d.items() if k != "date"} == g


def test_groupings_by_hand(con, tmp_path):
    build_aggregates(con, settings(tmp_path))
    sec = {r["security_code"]: r for r in table(con, "agg_by_security")}
    check(sec[1], cp_orders=4, sweeps=3, filled_quantity=150, vwap=305_000 / 150,
          filled_value_aud=305.0, mean_arrival_cost_bps=3.0, mean_fill_ratio=0.5,
          sim_matched_quantity=60, set_a_sweeps=1, savings_bps_unlimited=2.0)
    check(sec[2], cp_orders=2, sweeps=1, g1_sweeps=1, filled_quantity=200, vwap=1000.0,
          mean_arrival_cost_bps=-1.0, set_b_sweeps=1, savings_bps_price_impact=-3.0)
    part = {r["participantid"]: r for r in table(con, "agg_by_participant")}
    check(part[11], cp_orders=3, sweeps=2, g1_sweeps=1, g2_sweeps=1, filled_quantity=150,
          vwap=305_000 / 150, mean_fill_ratio=0.75, savings_bps_unlimited=2.0)
    check(part[12], cp_orders=3, sweeps=2, g1_sweeps=1, g3_sweeps=1, filled_quantity=200,
          vwap=1000.0, mean_fill_ratio=0.5, savings_bps_limited_50=-1.0)
    hour = {r["arrival_hour"]: r for r in table(con, "agg_by_hour")}
    assert list(hour) == [10, 11, 14, 15]
    check(hour[10], cp_orders=2, sweeps=2, mean_arrival_cost_bps=3.0, set_a_sweeps=1)
    check(hour[11], cp_orders=2, sweeps=1, g3_sweeps=1, filled_quantity=0, filled_value_aud=0.0,
          vwap=None, mean_arrival_cost_bps=None, mean_fill_ratio=0.0, savings_bps_unlimited=None)
    check(hour[15], cp_orders=1, sweeps=0, mean_fill_ratio=None, sim_matched_quantity=0)
    rows = table(con, "agg_by_size")
    assert [(r["size_bucket_idx"], r["size_bucket"]) for r in rows] == [
        (0, "<100"), (1, "100-1000"), (2, "1000-10000")]
    size = {r["size_bucket"]: r for r in rows}
    check(size["<100"], cp_orders=3, sweeps=2, filled_quantity=50, vwap=2100.0,
          mean_arrival_cost_bps=4.0, mean_fill_ratio=0.25, savings_bps_unlimited=3.0)
    check(size["100-1000"], cp_orders=2, sweeps=2, filled_quantity=300, vwap=400_000 / 300,
          mean_arrival_cost_bps=0.5, sim_matched_quantity=60, set_a_sweeps=1, set_b_sweeps=1,
          savings_bps_unlimited=-0.5)
    check(size["1000-10000"], cp_orders=1, sweeps=0)
    ts = {(r["date"], r["arrival_hour"]): r for r in table(con, "ts_hourly")}
    assert sorted(ts) == [(D1, 10), (D1, 11), (D1, 14), (D1, 15)]
    check(ts[(D1, 14)], cp_orders=1, sweeps=1, filled_quantity=200, savings_bps_unlimited=-2.0)


def test_rebuild_twice_is_identical_and_follows_done_units(con, tmp_path):
    build_aggregates(con, settings(tmp_path))
    first = {t: sorted(table(con, t), key=repr) for t in AGGREGATES}
    build_aggregates(con, settings(tmp_path))
    assert {t: sorted(table(con, t), key=repr) for t in AGGREGATES} == first
    # marking the failed unit done brings its rows in; the rebuild replaces, never appends
    con.execute("UPDATE units SET status = 'done' WHERE date = ?", [D2])
    build_aggregates(con, settings(tmp_path))
    [g] = table(con, "agg_global")
    check(g, cp_orders=8, sweeps=5, filled_quantity=1349, sim_matched_quantity=1059)
    assert len(table(con, "agg_by_date")) == 2


def test_scenario_columns_follow_settings(con, tmp_path):
    s = settings(tmp_path)
    custom = [{"name": "half-dark", "dark_share": 0.5, "rest": "real", "impact_bps": 0.0},
              {"name": "unlimited", "dark_share": 1.0, "rest": "real", "impact_bps": 0.0}]
    build_aggregates(con, type(s)(**{**s.__dict__, "scenarios": custom}))
    [g] = table(con, "agg_global")
    assert [c for c in g if c.startswith("savings_bps_")] == ["savings_bps_half_dark",
                                                               "savings_bps_unlimited"]
    check(g, savings_bps_half_dark=None, savings_bps_unlimited=2 / 3)
    with pytest.raises(DuckpipeError, match="both map to the column savings_bps_a_b"):
        scenario_columns([{"name": "a-b"}, {"name": "a_b"}])


def test_runs_inside_the_callers_transaction(con, tmp_path):
    build_aggregates(con, settings(tmp_path))
    before = table(con, "agg_global")
    con.execute("BEGIN TRANSACTION")
    con.execute("DELETE FROM sweeps")
    build_aggregates(con, settings(tmp_path))
    assert table(con, "agg_global")[0]["sweeps"] == 0
    con.execute("ROLLBACK")
    assert table(con, "agg_global") == before
