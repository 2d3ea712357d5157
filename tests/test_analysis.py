"""duckpipe.analysis against the pure-Python oracle (tests/oracle.py) and hand-computed values."""
from __future__ import annotations

import datetime as dt
import math
import random
import re

import oracle
import pytest
from oracle_data import MISSING, batch_connection, complete, make_views, random_unit, ts_at

from duckpipe.analysis import pipelines
from duckpipe.analysis import steps as analysis
from duckpipe.settings import DEFAULT_SCENARIOS
from duckpipe.sqlrender import template_text

D1, D2 = dt.date(2024, 9, 5), dt.date(2024, 9, 6)
SEC, SEC2 = 110621, 85603
BIG = 7_904_398_175_942_455_000          # 19-digit ids above 2**53

KEYS = {
    "order_states": ("security_code", "date", "order_id"),
    "sweeps": ("security_code", "date", "order_id"),
    "scenario_costs": ("security_code", "date", "order_id", "scenario"),
    "dark_matches": ("security_code", "date", "sweep_order_id", "match_no"),
    "dark_sweeps": ("security_code", "date", "order_id"),
    "markouts": ("security_code", "date", "order_id", "source", "fill_ref", "horizon_s"),
    "liquidity": ("security_code", "date", "venue"),
}


# ------------------------------------------------------------------ helpers

def compute(orders, trades, nbbo, units, params=None, scenarios=None):
    con = batch_connection()
    make_views(con, orders, trades, nbbo)
    res = analysis.compute_batch(con, units, params or {}, scenarios or DEFAULT_SCENARIOS)
    return {k: v.to_pylist() for k, v in res.items()}


def same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is None and b is None
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b and type(a) is type(b)          # ints exact, and a bool is not an int


def compare(sql: dict, ref: dict) -> None:
    """Every oracle column of every row must equal the SQL value (ints exact, floats 1e-9 rel)."""
    for table, keys in KEYS.items():
        got = {tuple(r[k] for k in keys): r for r in sql[table]}
        exp = {tuple(r[k] for k in keys): r for r in ref[table]}
        assert set(got) == set(exp), f"{table}: rows differ: only SQL {set(got) - set(exp)}, only oracle {set(exp) - set(got)}"
        for key, row in exp.items():
            for col, val in row.items():
                assert same(got[key][col], val), f"{table} {key} {col}: SQL {got[key][col]!r} oracle {val!r}"


def both(orders, trades, nbbo, units, params=None, scenarios=None):
    sql = compute(orders, trades, nbbo, units, params, scenarios)
    ref = oracle.run(complete(orders, "orders"), complete(trades, "trades"), complete(nbbo, "nbbo"),
                     units, params, scenarios)
    compare(sql, ref)
    return sql, ref


def by(rows, **kv):
    out = [r for r in rows if all(r[k] == v for k, v in kv.items())]
    assert len(out) == 1, (kv, out)
    return out[0]


# ------------------------------------------------------------------ the hand-built units

def ev(oid, ts, seq, side, etype, q, leaves, tmq, status=1, cr=None, price=3320, part=7, nb=None, no=None,
       sec=SEC):
    return dict(order_id=oid, timestamp=ts, sequence=seq, row_num=seq, side=side, exchangeordertype=etype,
                quantity=q, leavesquantity=leaves, totalmatchedquantity=tmq, orderstatus=status,
                changereason=cr, price=price, participantid=part, national_bid=nb, national_offer=no,
                security_code=sec)


def tr(oid, t, price, q, ds=1, mg=None, snb=3300, sno=3320, seq=None, sec=SEC, side=1):
    return dict(orderid=oid, tradetime=t, tradeprice=price, quantity=q, dealsource=ds,
                matchgroupid=mg if mg is not None else (t // 1000) % 10**9, nationalbidpricesnapshot=snb,
                nationalofferpricesnapshot=sno, sequence=seq if seq is not None else t % 10**6, security_code=sec,
                side=side)


def T(ss, d=D1, hh=10, mm=0):
    return ts_at(d, hh, mm, ss)


A, B, C, Dd, E, G, H, I, J, K, K2, L, M, N = (BIG + i for i in range(14))


def hand_unit(d=D1, off=0):
    """One unit exercising the tricky rules (see the letters in the test below)."""
    o, t = [], []
    Tq = lambda ss, mm=0: T(ss, d, mm=mm)  # noqa: E731
    s = 1000 * (1 + off)
    # A: buy sweep, fully filled by two lit fills after entry; national quote valid at arrival
    o += [ev(A + off, Tq(0), s + 1, 1, 2048, 1000, 1000, 0, status=2, cr=6, nb=3300, no=3320),
          ev(A + off, Tq(0), s + 2, 1, 2048, 1000, 1000, 0, status=1, cr=6),
          ev(A + off, Tq(5), s + 20, 1, 2048, 1000, 400, 600, cr=3),
          ev(A + off, Tq(15), s + 30, 1, 2048, 1000, 0, 1000, status=2, cr=3)]
    t += [tr(A + off, Tq(5), 3320, 600, mg=s + 1), tr(A + off, Tq(15), 3315, 400, mg=s + 2)]
    # B: sell sweep filled on entry (status 2 then 1 at the same timestamp) -> nothing_offered
    o += [ev(B + off, Tq(2), s + 3, 2, 2048, 500, 500, 0, status=2, cr=6, price=3300),
          ev(B + off, Tq(2), s + 4, 2, 2048, 500, 0, 500, status=2, cr=3, price=3300)]
    t += [tr(B + off, Tq(2), 3310, 500, mg=s + 3, side=2)]
    # C: sell Centre Point contra; D: sell block contra (4098 = block + short sell)
    o += [ev(C + off, Tq(3), s + 5, 2, 64, 300, 300, 0, cr=6)]
    o += [ev(Dd + off, Tq(12), s + 6, 2, 4098, 200, 200, 0, cr=6)]
    # E: buy sweep, its only in-window contra (D) was exhausted by A -> contras_exhausted
    o += [ev(E + off, Tq(11), s + 7, 1, 2048, 100, 100, 0, cr=6),
          ev(E + off, Tq(16), s + 8, 1, 2048, 100, 0, 100, status=2, cr=3)]
    t += [tr(E + off, Tq(16), 3320, 100, mg=s + 4)]
    # G: sell sweep with no buy contra arriving in its window; invalid national quote -> nbbo mid
    o += [ev(G + off, Tq(40), s + 9, 2, 2048, 50, 50, 0, cr=6, nb=MISSING, no=MISSING, price=3310),
          ev(G + off, Tq(41), s + 10, 2, 2048, 50, 0, 50, status=2, cr=3, price=3310)]
    t += [tr(G + off, Tq(41), 3315, 50, mg=s + 5, side=2)]
    # H: G3 buy sweep, trader cancel after 60 s
    o += [ev(H + off, Tq(0, mm=1), s + 11, 1, 2048, 20000, 20000, 0, cr=6, price=3300),
          ev(H + off, Tq(0, mm=2), s + 12, 1, 2048, 20000, 20000, 0, status=4, cr=1, price=3300)]
    # I: G2 sell sweep: amended 1000 -> 800, a trade report pair (count once), then fill-and-kill
    o += [ev(I + off, Tq(50), s + 13, 2, 2048, 1000, 1000, 0, cr=6, price=3300),
          ev(I + off, Tq(55), s + 14, 2, 2048, 800, 800, 0, cr=5, price=3300),
          ev(I + off, Tq(56), s + 15, 2, 2048, 800, 500, 300, cr=3, price=3300),
          ev(I + off, Tq(57), s + 16, 2, 2048, 800, 500, 300, status=4, cr=9, price=3300)]
    t += [tr(I + off, Tq(56), 3312, 300, ds=5, mg=s + 6, snb=MISSING, sno=MISSING, seq=s + 1, side=2),
          tr(I + off, Tq(56), 3312, 300, ds=5, mg=s + 6, snb=MISSING, sno=MISSING, seq=s + 2, side=1)]
    # J: a lit order (no CP bit) that would otherwise be A's first contra
    o += [ev(J + off, Tq(1), s + 17, 2, 0, 1000, 1000, 0, cr=6)]
    # K: CP bit on entry but the final event says lit -> excluded; K2: the reverse -> a CP order
    o += [ev(K + off, Tq(6), s + 18, 2, 64, 100, 100, 0, cr=6), ev(K + off, Tq(7), s + 19, 2, 0, 100, 100, 0, cr=5)]
    o += [ev(K2 + off, Tq(45), s + 21, 2, 0, 70, 70, 0, cr=6), ev(K2 + off, Tq(46), s + 22, 2, 64, 70, 70, 0, cr=5)]
    # L: a buy block order reloaded the previous evening (its reload row is in the previous date's unit)
    o += [ev(L + off, ts_at(d - dt.timedelta(days=1), 21, 22, 0), s + 23, 1, 4096, 700, 700, 0, cr=30),
          ev(L + off, Tq(30), s + 24, 1, 4096, 600, 600, 0, cr=5)]
    # N: G1 sweep filled on the lit continuous dealsource 44: not qualifying with the default [1]
    o += [ev(N + off, Tq(20), s + 25, 1, 2048, 10, 10, 0, cr=6),
          ev(N + off, Tq(21), s + 26, 1, 2048, 10, 0, 10, status=2, cr=3)]
    t += [tr(N + off, Tq(21), 3320, 10, ds=44, mg=s + 7)]
    # lit counterparties of the trades: rows with other order ids (not in orders) are normal
    t += [dict(x, orderid=BIG + 999, side=3 - x["side"], sequence=x["sequence"] + 7) for x in list(t)
          if x["dealsource"] != 5]
    q = [dict(security_code=SEC, timestamp=Tq(-1), sequence=s + 1, bidprice=3300, offerprice=3320),
         dict(security_code=SEC, timestamp=Tq(10), sequence=s + 3, bidprice=3310, offerprice=3320),
         dict(security_code=SEC, timestamp=Tq(10), sequence=s + 2, bidprice=3300, offerprice=3310),
         dict(security_code=SEC, timestamp=Tq(20), sequence=s + 4, bidprice=3330, offerprice=3320),  # crossed
         dict(security_code=SEC, timestamp=Tq(30), sequence=s + 5, bidprice=MISSING, offerprice=3320)]
    # M: a sweep of a security without any quote: every mid-based metric is NULL, never 0
    o += [ev(M + off, Tq(4), s + 27, 1, 2048, 100, 100, 0, cr=6, sec=SEC2),
          ev(M + off, Tq(9), s + 28, 1, 2048, 100, 0, 100, status=2, cr=3, sec=SEC2)]
    t += [tr(M + off, Tq(9), 3320, 100, mg=s + 8, sec=SEC2, snb=None, sno=None)]
    return o, t, q


@pytest.fixture(scope="module")
def hand():
    o, t, q = hand_unit()
    o2, t2, q2 = hand_unit(D2, off=100)
    units = [(SEC, D1), (SEC2, D1), (SEC, D2), (SEC2, D2)]
    return both(o + o2, t + t2, q + q2, units)


def test_multi_unit_batch_matches_oracle(hand):
    sql, _ = hand
    assert {(r["security_code"], r["date"]) for r in sql["order_states"]} == {(SEC, D1), (SEC2, D1), (SEC, D2), (SEC2, D2)}
    for table in analysis.RESULT_TABLES:
        assert all(r["security_code"] is not None and r["date"] is not None for r in sql[table])


def test_order_state_rules(hand):
    sql, _ = hand
    st = sql["order_states"]
    ids = {r["order_id"] for r in st if r["date"] == D1}
    assert J not in ids and K not in ids and K2 in ids                     # lit and final-event rule
    a = by(st, order_id=A, date=D1)
    assert (a["arrival_seq"], a["post_entry_seq"], a["final_seq"]) == (1001, 1002, 1030)
    assert a["arrival_mid"] == 3310.0 and a["arrival_mid_source"] == "national"
    b = by(st, order_id=B, date=D1)
    assert b["post_entry_leaves"] == 0 and b["arrival_quantity"] == 500     # state after on-entry matching
    lo = by(st, order_id=L, date=D1)
    assert lo["arrival_quantity"] == 600 and lo["events"] == 1              # reload row belongs to 09-04
    assert type(a["order_id"]) is int and a["order_id"] > 2**53


def test_sweep_groups_and_metrics(hand):
    sql, _ = hand
    sw = sql["sweeps"]
    a = by(sw, order_id=A, date=D1)
    assert a["group_id"] == 1 and a["qualifying"] and a["fills"] == 2 and a["filled_quantity"] == 1000
    assert a["vwap"] == pytest.approx((600 * 3320 + 400 * 3315) / 1000) == 3318.0
    assert a["arrival_cost_bps"] == pytest.approx(1e4 * (3318 - 3310) / 3310)
    assert a["effective_spread"] == pytest.approx(16.0) and a["effective_spread_pct"] == pytest.approx(80.0)
    assert a["time_to_first_fill_s"] == pytest.approx(5.0) and a["first_to_last_fill_s"] == pytest.approx(10.0)
    assert a["vwte_s"] == pytest.approx((600 * 5 + 400 * 15) / 1000)
    # fill mids: both snapshots 3300/3320 valid -> mid 3310
    assert a["vw_cost_bps"] == pytest.approx(1e4 * (600 * 10 / 3310 + 400 * 5 / 3310) / 1000)
    i = by(sw, order_id=I, date=D1)
    assert i["group_id"] == 2 and i["fills"] == 1 and i["filled_quantity"] == 300      # trade report once
    assert i["trade_report_volume"] == 300 and i["fill_ratio"] == pytest.approx(300 / 800)
    assert i["vw_cost_bps"] == pytest.approx(-1e4 * (3312 - 3315) / 3315)              # mid at trade time
    h = by(sw, order_id=H, date=D1)
    assert h["group_id"] == 3 and h["g3_changereason"] == 1 and h["g3_reason"] == "trader_cancel"
    assert h["vwap"] is None and h["arrival_cost_bps"] is None and h["fills"] == 0
    assert h["time_in_book_s"] == pytest.approx(60.0) and h["size_bucket"] == ">=10000"
    assert h["limit_distance_bps"] == pytest.approx(1e4 * (3300 - 3315) / 3315)   # mid: seq 3 of the 10 s tie
    g = by(sw, order_id=G, date=D1)
    assert g["arrival_mid"] == 3315.0 and g["arrival_mid_source"] == "nbbo"           # invalid national
    assert not by(sw, order_id=N, date=D1)["qualifying"]
    m = by(sw, order_id=M, date=D1)
    assert m["arrival_mid"] is None and m["arrival_cost_bps"] is None and m["vw_cost_bps"] is None


def test_scenario_costs(hand):
    sql, _ = hand
    sc = sql["scenario_costs"]
    a = by(sc, order_id=A, date=D1, scenario="unlimited")
    assert a["real_cost"] == 3_318_000 and a["scenario_cost"] == 3_310_000 and a["savings"] == 8000
    assert a["savings_bps"] == pytest.approx(1e4 * 8000 / 3_310_000)
    c = by(sc, order_id=A, date=D1, scenario="price_impact")
    assert c["scenario_cost"] == pytest.approx(0.5 * 1000 * 3310 + 0.5 * 1000 * 3310 * 1.0005)
    for r in sc:                                     # the identity of §5.5
        if r["savings"] is not None:
            s = 1 if by(sql["sweeps"], order_id=r["order_id"], date=r["date"])["side"] == 1 else -1
            assert r["savings"] == pytest.approx(s * (r["real_cost"] - r["scenario_cost"]))
    assert {r["order_id"] for r in sc if r["date"] == D1} == {A, B, E, G, I, N, M}     # G1 and G2 only
    assert all(r["savings"] is None and r["scenario_cost"] is None for r in sc if r["order_id"] == M)


def test_dark_simulation(hand):
    sql, _ = hand
    dm = [r for r in sql["dark_matches"] if r["date"] == D1 and r["sweep_order_id"] == A]
    assert [(r["contra_order_id"], r["quantity"], r["price"]) for r in sorted(dm, key=lambda r: r["match_no"])] == [
        (B, 500, 3310.0), (C, 300, 3310.0), (Dd, 200, 3315.0)]     # B's contra entry = arrival qty
    ds = {r["order_id"]: r for r in sql["dark_sweeps"] if r["date"] == D1}
    assert set(ds) == {A, B, E, G, M}
    assert ds[A]["set_label"] == "A" and ds[A]["sim_fill_ratio"] == 1.0 and ds[A]["reason"] is None
    assert ds[A]["sim_vwap"] == pytest.approx((800 * 3310 + 200 * 3315) / 1000)
    assert ds[A]["sim_vwte_s"] == pytest.approx((500 * 2 + 300 * 3 + 200 * 12) / 1000)
    assert ds[B]["reason"] == "nothing_offered" and ds[E]["reason"] == "contras_exhausted"
    assert ds[G]["reason"] == "no_contra_in_window" and ds[G]["set_label"] == "B"
    assert [ds[x]["placement_no"] for x in (A, B, E, G)] == [1, 2, 3, 4]


def test_result_columns_match_catalog(hand):
    """compute_batch returns exactly the columns and types of sql/analysis/results_ddl.sql."""
    con = batch_connection()
    pipelines.get("analysis").create_tables(con)
    pipelines.get("analysis").create_tables(con)       # idempotent
    o, t, q = hand_unit()
    make_views(con, o, t, q)
    res = analysis.compute_batch(con, [(SEC, D1)], {}, DEFAULT_SCENARIOS)
    assert list(res) == analysis.RESULT_TABLES
    for name, tbl in res.items():
        expected = con.sql(f"SELECT * FROM {name} LIMIT 0").to_arrow_table().schema
        assert tbl.schema.names == expected.names, name
        assert [f.type for f in tbl.schema] == [f.type for f in expected], name
        con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM tbl")
    for name in ("order_states", "sweeps"):
        assert con.execute(f"SELECT typeof(order_id) FROM {name} LIMIT 1").fetchone()[0] == "UBIGINT"


def test_templates_are_documented():
    for name in analysis.UNIT_TEMPLATES:
        text = template_text(name)
        assert re.match(r"-- step \d+:", text), name
        assert "grain:" in text and "parameters" in text, name
        assert len(text.splitlines()) <= 90, name


# ------------------------------------------------------------------ parameters

def test_day_rollover_moves_the_reload_row():
    o, t, q = hand_unit()
    sql, _ = both(o, t, q, [(SEC, D1)], {"day_rollover": "19:00"})
    lo = by(sql["order_states"], order_id=L)
    assert lo["arrival_quantity"] == 700 and lo["events"] == 2          # the 21:22 row joined 09-05


def test_session_window_and_participants():
    o, t, q = hand_unit()
    for e in o:
        if e["order_id"] == C:
            e["participantid"] = 9
    sql, _ = both(o, t, q, [(SEC, D1)], {"session_window": "10:00-10:01"})
    assert H not in {r["order_id"] for r in sql["order_states"]}          # 10:01 excluded (end exclusive)
    sql, _ = both(o, t, q, [(SEC, D1)], {"participants": [9]})
    assert {r["order_id"] for r in sql["order_states"]} == {C}


def test_no_changereason_column_relaxes_qualification():
    o, t, q = hand_unit()
    for e in o:
        e["changereason"] = None
    sql, _ = both(o, t, q, [(SEC, D1)], {"qualifying_dealsources": [1, 44]})
    assert by(sql["sweeps"], order_id=N)["qualifying"]
    assert by(sql["sweeps"], order_id=H)["g3_changereason"] is None


def test_custom_scenarios_and_buckets():
    o, t, q = hand_unit()
    scn = [{"name": "x", "dark_share": 0.25, "rest": "impact", "impact_bps": 12.5}]
    sql, _ = both(o, t, q, [(SEC, D1)], {"size_buckets": [500]}, scn)
    assert {r["scenario"] for r in sql["scenario_costs"]} == {"x"}
    assert by(sql["sweeps"], order_id=A)["size_bucket"] == ">=500"


def test_empty_batch_and_unit_without_orders():
    res = compute([], [], [], [(SEC, D1)])
    assert all(len(v) == 0 for v in res.values())


# ------------------------------------------------------------------ randomized

@pytest.mark.parametrize("seed", range(1, 9))
def test_random_units_match_oracle(seed):
    rng = random.Random(seed)
    O, Tr, Q, units = [], [], [], []
    for i, (sec, d) in enumerate([(1, D1), (2, D1), (1, D2)]):
        o, t, q = random_unit(rng, sec, d, rng.randint(20, 80), id_offset=i, with_changereason=seed % 3 != 0)
        O += o
        Tr += t
        Q += q
        units.append((sec, d))
    params = {"qualifying_dealsources": [1, 44]} if seed % 2 else {}
    sql, ref = both(O, Tr, Q, units, params)
    assert ref["sweeps"] and ref["order_states"]
