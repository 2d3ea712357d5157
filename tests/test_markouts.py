"""Markouts and liquidity (SPEC §5.10): templates versus the oracle on tricky hand-built units,
hand-computed values, parameters, aggregates and statistics."""
from __future__ import annotations

import math
import random

import pytest
from oracle_data import MISSING, batch_connection, random_unit, ts_at
from test_analysis import BIG, D1, D2, SEC, both, by, ev, tr

from duckpipe.analysis import markouts
from duckpipe.analysis import steps as analysis
from duckpipe.errors import UsageError
from duckpipe.settings import resolve

S_BUY, S_SELL, S_LATE, S_MID, CP_SELL, CP_BUY = (BIG + 100 + i for i in range(6))


def T(hh, mm, ss=0.0, d=D1):
    return ts_at(d, hh, mm, ss)


def aggr(row, pa):
    return dict(row, passiveaggressive=pa)


def tricky_unit():
    """One unit (SEC, D1) plus the next date's unit, built so each rule of §5.10 decides a number.

    - S_BUY fills at 10:00:00, before the first quote (10:00:02): M(t) is NULL (no liquidity sign),
      M(t + 1) NULL, M(t + 5) the 10:00:02 quote.
    - a quote exactly at 10:00:05 + 5 s (two quotes share that timestamp: the larger sequence wins).
    - S_SELL fills by a trade report pair (counted once, in markouts and in liquidity) and a lit
      match group whose two rows are both passive (no aggressive row: unsigned).
    - S_LATE fills at 16:08 Sydney; its 300 s markout looks past the day's last quote (16:10).
    - S_MID fills at 23:58 Sydney; t + 300 s is on the next calendar date, whose 00:01 quote must
      not be used: the mid stays the 23:50 quote of the fill's own date.
    - CP_SELL is a Centre Point contra that the qualifying sweep S_BUY matches in the simulation.
    """
    o, t = [], []
    o += [ev(S_BUY, T(10, 0, 0), 1, 1, 2048, 500, 500, 0, status=2, cr=6),
          ev(S_BUY, T(10, 0, 0), 2, 1, 2048, 500, 500, 0, cr=6),
          ev(S_BUY, T(10, 0, 5), 3, 1, 2048, 500, 0, 500, status=2, cr=3)]
    o += [ev(CP_SELL, T(10, 0, 3), 4, 2, 64, 200, 200, 0, cr=6)]
    t += [aggr(tr(S_BUY, T(10, 0, 0), 3320, 200, mg=11, seq=101), 1),
          aggr(tr(BIG + 900, T(10, 0, 0), 3320, 200, mg=11, seq=102, side=2), 0),
          aggr(tr(S_BUY, T(10, 0, 5), 3330, 300, mg=12, seq=103), 0),
          aggr(tr(BIG + 901, T(10, 0, 5), 3330, 300, mg=12, seq=104, side=2), 1)]
    o += [ev(S_SELL, T(11, 0, 0), 5, 2, 2048, 400, 400, 0, cr=6, price=3300),
          ev(S_SELL, T(11, 0, 1), 6, 2, 2048, 400, 0, 400, status=2, cr=3, price=3300)]
    t += [aggr(tr(S_SELL, T(11, 0, 1), 3305, 100, ds=5, mg=13, seq=105, side=2), 0),
          aggr(tr(S_SELL, T(11, 0, 1), 3305, 100, ds=5, mg=13, seq=106, side=1), 1),
          aggr(tr(S_SELL, T(11, 0, 1), 3312, 300, mg=14, seq=107, side=2), 0),
          aggr(tr(BIG + 902, T(11, 0, 1), 3312, 300, mg=14, seq=108, side=1), 0)]
    o += [ev(S_LATE, T(16, 8, 0), 7, 1, 2048, 100, 100, 0, cr=6),
          ev(S_LATE, T(16, 8, 0), 8, 1, 2048, 100, 0, 100, status=2, cr=3)]
    t += [aggr(tr(S_LATE, T(16, 8, 0), 3350, 100, ds=46, mg=15, seq=109), 1),
          aggr(tr(BIG + 903, T(16, 8, 0), 3350, 100, ds=46, mg=15, seq=110, side=2), 0)]
    o += [ev(S_MID, T(23, 58, 0), 9, 2, 2048, 50, 50, 0, cr=6),
          ev(S_MID, T(23, 58, 0), 10, 2, 2048, 50, 0, 50, status=2, cr=3)]
    t += [aggr(tr(S_MID, T(23, 58, 0), 3340, 50, mg=16, seq=111, side=2), 1),
          aggr(tr(BIG + 904, T(23, 58, 0), 3340, 50, mg=16, seq=112, side=1), 0)]
    # the next date's unit: one CP order so that it exists, and an early quote
    o += [ev(CP_BUY, T(9, 0, 0, d=D2), 11, 1, 64, 10, 10, 0, cr=6)]
    q = [dict(security_code=SEC, timestamp=T(10, 0, 2), sequence=1, bidprice=3300, offerprice=3320),
         dict(security_code=SEC, timestamp=T(10, 0, 10), sequence=3, bidprice=3310, offerprice=3330),
         dict(security_code=SEC, timestamp=T(10, 0, 10), sequence=2, bidprice=3200, offerprice=3400),
         dict(security_code=SEC, timestamp=T(10, 0, 20), sequence=4, bidprice=MISSING, offerprice=3330),
         dict(security_code=SEC, timestamp=T(11, 0, 0), sequence=5, bidprice=3300, offerprice=3310),
         dict(security_code=SEC, timestamp=T(16, 10, 0), sequence=6, bidprice=3340, offerprice=3360),
         dict(security_code=SEC, timestamp=T(23, 50, 0), sequence=7, bidprice=3330, offerprice=3340),
         dict(security_code=SEC, timestamp=T(0, 1, 0, d=D2), sequence=8, bidprice=3000, offerprice=3010)]
    return o, t, q


UNITS = [(SEC, D1), (SEC, D2)]


@pytest.fixture(scope="module")
def tricky():
    o, t, q = tricky_unit()
    return both(o, t, q, UNITS)          # every row of every table equals the oracle's


def mo(rows, order_id, source, horizon, **kv):
    return by(rows, order_id=order_id, source=source, horizon_s=horizon, **kv)


def test_no_quote_before_the_fill(tricky):
    m = tricky[0]["markouts"]
    first = dict(fill_ref=11)
    assert mo(m, S_BUY, "real", 1, **first)["markout_bps"] is None               # 10:00:01: no quote yet
    assert mo(m, S_BUY, "real", 5, **first)["mid_after"] == 3310.0               # the 10:00:02 quote
    assert mo(m, S_BUY, "real", 5, **first)["markout_bps"] == pytest.approx(1e4 * (3310 - 3320) / 3320)
    lit = by(tricky[0]["liquidity"], date=D1, venue="lit")
    assert lit["trades"] == 4 and lit["signed_trades"] == 2   # 10:00:00 has no M(t); 11:00:01 no aggressor


def test_quote_exactly_at_t_plus_h_counts_and_ties_take_the_larger_sequence(tricky):
    cp = mo(tricky[0]["markouts"], S_BUY, "real", 5, fill_ref=12)             # 10:00:05 + 5 s = 10:00:10
    assert cp["venue"] == "lit" and cp["mid_after"] == 3320.0                    # seq 3 (3310/3330), not seq 2
    assert cp["markout_bps"] == pytest.approx(1e4 * (3320 - 3330) / 3330)


def test_trade_report_counted_once_and_no_aggressor_unsigned(tricky):
    sql = tricky[0]
    rep = [r for r in sql["markouts"] if r["order_id"] == S_SELL and r["venue"] == "trade_report"]
    assert len(rep) == 5                                                          # one fill x 5 horizons
    r = mo(sql["markouts"], S_SELL, "real", 60, fill_ref=13)
    assert r["markout_bps"] == pytest.approx(-1e4 * (3305 - 3305) / 3305)        # sell: s = -1, mid 3305
    tr_ = by(sql["liquidity"], date=D1, venue="trade_report")
    assert tr_["trades"] == 1 and tr_["volume"] == 100 and tr_["signed_trades"] == 1
    # the aggressive row of the report is the buy side: d = +1, M(t) = 3305 -> effective 0
    assert tr_["eff_spread_bps"] == pytest.approx(0.0)
    lit = by(sql["liquidity"], date=D1, venue="lit")
    assert lit["trades"] == 4 and lit["volume"] == 200 + 300 + 300 + 50
    # signed lit trades: 10:00:05 (aggressor sells, d = -1, M(t) 3310, M(t + 300 s) 3320) and 23:58
    # (aggressor sells at 3340, M(t) 3335 = M(t + 300 s))
    eff = (300 * 2e4 * -1 * (3330 - 3310) / 3310 + 50 * 2e4 * -1 * (3340 - 3335) / 3335) / 350
    imp = (300 * 2e4 * -1 * (3320 - 3310) / 3310) / 350
    assert lit["eff_spread_bps"] == pytest.approx(eff) and lit["price_impact_bps"] == pytest.approx(imp)


def test_fill_late_in_the_day(tricky):
    m = tricky[0]["markouts"]
    late = mo(m, S_LATE, "real", 300)
    assert late["venue"] == "centre_point" and late["mid_after"] == 3350.0 and late["markout_bps"] == pytest.approx(0.0)   # the 16:10 quote
    mid = mo(m, S_MID, "real", 300)
    assert mid["mid_after"] == 3335.0                                             # not the next date's 00:01
    assert mid["markout_bps"] == pytest.approx(-1e4 * (3335 - 3340) / 3340)


def test_simulated_fills_and_liquidity_identity(tricky):
    sql = tricky[0]
    sim = [r for r in sql["markouts"] if r["source"] == "sim"]
    assert {r["order_id"] for r in sim} == {S_BUY} and {r["venue"] for r in sim} == {"dark_sim"}
    s30 = mo(sim, S_BUY, "sim", 30)
    assert s30["price"] == 3310.0 and s30["mid_after"] == 3320.0 and s30["quantity"] == 200   # 10:00:03 + 30 s
    assert s30["markout_bps"] == pytest.approx(1e4 * (3320 - 3310) / 3310)
    for r in sql["liquidity"]:
        if r["eff_spread_bps"] is not None:
            assert r["eff_spread_bps"] == pytest.approx(r["realized_spread_bps"] + r["price_impact_bps"])
    every = by(sql["liquidity"], date=D1, venue="all")
    assert every["trades"] == 6 and every["quotes"] == 5            # valid quotes, one per timestamp
    # quoted spread: 10:00:02-10:00:10 at 20/3310, 10:00:10-11:00:00 at 20/3320, 11:00:00-16:10 at 10/3305,
    # 16:10-23:50 at 20/3350 (the invalid 10:00:20 quote does not interrupt the valid one)
    w = [(8, 20 / 3310), (3590, 20 / 3320), (18600, 10 / 3305), (27600, 20 / 3350)]
    assert every["quoted_spread_bps"] == pytest.approx(1e4 * sum(a * b for a, b in w) / sum(a for a, _ in w))
    d2 = by(sql["liquidity"], date=D2, venue="all")
    assert d2["trades"] == 0 and d2["quoted_spread_bps"] is None and d2["quotes"] == 1


@pytest.mark.parametrize("params", [{"markout_horizons": [1, 2, 7]}, {"liquidity_horizon_s": 1},
                                    {"markout_horizons": [3], "day_rollover": "19:00"}])
def test_parameters_reach_the_templates(params):
    o, t, q = tricky_unit()
    sql, _ = both(o, t, q, UNITS, params)
    hs = sorted({r["horizon_s"] for r in sql["markouts"]})
    assert hs == params.get("markout_horizons", [1, 5, 30, 60, 300])
    assert {r["horizon_s"] for r in sql["liquidity"]} == {params.get("liquidity_horizon_s", 300)}


@pytest.mark.parametrize("seed", range(11, 15))
def test_random_units_short_horizons(seed):
    """Random batches with horizons inside the quotes' span (the default ones mostly reach past it)."""
    rng = random.Random(seed)
    O, Tr, Q, units = [], [], [], []
    for i, (sec, d) in enumerate([(1, D1), (2, D1), (1, D2)]):
        o, t, q = random_unit(rng, sec, d, rng.randint(30, 90), id_offset=i)
        O, Tr, Q = O + o, Tr + t, Q + q
        units.append((sec, d))
    sql, _ = both(O, Tr, Q, units, {"markout_horizons": [1, 2, 4, 8], "liquidity_horizon_s": 3})
    assert any(r["source"] == "sim" for r in sql["markouts"])
    assert len({r["mid_after"] for r in sql["markouts"]}) > 3
    assert any(r["signed_trades"] for r in sql["liquidity"])


def test_bad_parameter_values_are_usage_errors():
    for bad in ("markout_horizons=5,1", "markout_horizons=0,5", "markout_horizons=1,1", "markout_horizons=a",
                "liquidity_horizon_s=0", "liquidity_horizon_s=1.5", "liquidity_horizon_s=-3"):
        with pytest.raises(UsageError) as exc:
            resolve(workspace=".", sets=[bad], env={})
        assert bad.split("=")[0] in str(exc.value) and "\n" not in str(exc.value)
    s = resolve(workspace=".", sets=["markout_horizons=1,5,60", "liquidity_horizon_s=60"], env={})
    assert s.params["markout_horizons"] == [1, 5, 60] and s.params["liquidity_horizon_s"] == 60


def test_parameters_change_the_unit_signature():
    from duckpipe.engine import units as unitsmod
    base = resolve(workspace=".", env={}).params
    sig = lambda p: unitsmod.signature("x", "digest", p, [])  # noqa: E731
    assert sig(base) != sig(dict(base, markout_horizons=[1, 5, 60]))
    assert sig(base) != sig(dict(base, liquidity_horizon_s=60))


def test_venue_classes_come_from_the_profile(monkeypatch):
    from duckpipe.profiles import asx
    bound = markouts.bind_values({"markout_horizons": [1], "liquidity_horizon_s": 5})
    assert dict(zip(bound["venue_code"], bound["venue_name"]))[46] == "centre_point"
    assert bound["trade_report_codes"] == [5]
    monkeypatch.setitem(asx.PROFILE.venue_classes, "lit", (1,))       # 44 is no longer lit
    o, t, q = tricky_unit()
    for r in t:
        if r["matchgroupid"] == 14:
            r["dealsource"] = 44
    con = batch_connection()
    from oracle_data import make_views
    make_views(con, o, t, q)
    res = analysis.compute_batch(con, UNITS, {}, [])
    venues = {r["venue"] for r in res["liquidity"].to_pylist()}
    assert "other" in venues


# ------------------------------------------------------------------ aggregates and statistics

def _catalog_with_markouts(seed: int = 5):
    """markouts/liquidity rows of (1, D1), (2, D1) done and (2, D2) failed (+1000: a leak shows)."""
    import numpy as np
    from test_stats import insert, make_catalog, set_units
    con = make_catalog()
    set_units(con, [(1, D1, "done"), (2, D1, "done"), (2, D2, "failed")])
    rng = np.random.default_rng(seed)
    rows = []
    for code, date, shift in ((1, D1, 0.0), (2, D1, 0.0), (2, D2, 1000.0)):
        for i in range(120):
            source, venue = [("real", "lit"), ("real", "centre_point"), ("sim", "dark_sim"),
                             ("real", "auction")][i % 4]
            g = 1 if source == "sim" or i % 3 else 2
            for h in (1, 60):
                x = None if i % 17 == 0 else float(rng.normal(1.0 if source == "sim" else -0.5, 3)) + shift
                rows.append({"security_code": code, "date": date, "order_id": 10**18 + i, "source": source,
                             "venue": venue, "quantity": int(rng.integers(1, 500)), "horizon_s": h,
                             "markout_bps": x, "group_id": g, "size_bucket_idx": i % 2,
                             "size_bucket": ["<100", "100-999"][i % 2]})
    for r in rows:
        del r["size_bucket"]
    insert(con, "markouts", rows)
    insert(con, "sweeps", [{"security_code": 1, "date": D1, "order_id": 1, "size_bucket_idx": i, "size_bucket": b}
                           for i, b in enumerate(["<100", "100-999"])])
    liq = [{"security_code": 1, "date": D1, "venue": "lit", "trades": 10, "volume": 1000, "value": 3_300_000,
            "signed_trades": 8, "signed_volume": 800, "eff_spread_bps": 10.0, "realized_spread_bps": 4.0,
            "price_impact_bps": 6.0, "horizon_s": 300, "quoted_spread_bps": 20.0, "quoted_time_s": 100.0},
           {"security_code": 2, "date": D1, "venue": "lit", "trades": 5, "volume": 500, "value": 1_000_000,
            "signed_trades": 5, "signed_volume": 200, "eff_spread_bps": 20.0, "realized_spread_bps": 5.0,
            "price_impact_bps": 15.0, "horizon_s": 300, "quoted_spread_bps": 40.0, "quoted_time_s": 300.0},
           {"security_code": 2, "date": D2, "venue": "lit", "trades": 99, "volume": 9999, "value": 9,
            "signed_trades": 99, "signed_volume": 9999, "eff_spread_bps": 999.0, "realized_spread_bps": 9.0,
            "price_impact_bps": 990.0, "horizon_s": 300, "quoted_spread_bps": 999.0, "quoted_time_s": 1.0}]
    insert(con, "liquidity", liq)
    done = [r for r in rows if r["date"] == D1]
    return con, done


def test_markout_and_liquidity_aggregates_by_hand(tmp_path):
    import numpy as np
    from test_stats import settings

    from duckpipe.analysis.aggregate import build_aggregates
    con, done = _catalog_with_markouts()
    rows = build_aggregates(con, settings(tmp_path))
    assert rows["agg_markouts"] == 8 and rows["agg_liquidity"] == 2 and rows["agg_liquidity_by_venue"] == 1
    got = {r[:3]: r[3:] for r in con.execute(
        "SELECT source, venue, horizon_s, fills, fills_with_mid, mean_markout_bps, ci_low_bps, ci_high_bps"
        " FROM agg_markouts").fetchall()}
    for (source, venue, h), (fills, with_mid, mean, lo, hi) in got.items():
        sel = [r for r in done if (r["source"], r["venue"], r["horizon_s"]) == (source, venue, h)]
        x = np.array([r["markout_bps"] for r in sel if r["markout_bps"] is not None])
        q = np.array([r["quantity"] for r in sel if r["markout_bps"] is not None], dtype=float)
        m = np.average(x, weights=q)
        n_eff = q.sum() ** 2 / (q ** 2).sum()
        se = math.sqrt(np.average((x - m) ** 2, weights=q) / (n_eff - 1))
        assert (fills, with_mid) == (len(sel), len(x))
        assert mean == pytest.approx(m, rel=1e-9)
        assert (lo, hi) == (pytest.approx(m - 1.959963984540054 * se, rel=1e-7),
                            pytest.approx(m + 1.959963984540054 * se, rel=1e-7))
    by_group = con.execute("SELECT count(*), sum(fills) FROM agg_markouts_by_group").fetchone()
    assert by_group == (14, len(done))          # sim fills are G1 only: 4 x 2 x 2 - 2 keys
    [venue] = con.execute("SELECT venue, trades, volume, signed_volume, eff_spread_bps, realized_spread_bps,"
                          " price_impact_bps, quoted_spread_bps, value_aud FROM agg_liquidity_by_venue").fetchall()
    assert venue[:4] == ("lit", 15, 1500, 1000)
    assert venue[4:8] == (pytest.approx((800 * 10 + 200 * 20) / 1000), pytest.approx((800 * 4 + 200 * 5) / 1000),
                          pytest.approx((800 * 6 + 200 * 15) / 1000), pytest.approx((100 * 20 + 300 * 40) / 400))
    assert venue[8] == pytest.approx(4300.0)


def test_markout_statistics_against_scipy(tmp_path):
    import numpy as np
    from scipy import stats as sps

    from duckpipe.analysis.stats import bh_adjust, compute_stats
    con, done = _catalog_with_markouts()
    compute_stats(con, None)
    tests = {(r[0], r[1], r[2], r[3]): r[4:] for r in con.execute(
        "SELECT scope, segment, metric, test, n, statistic, p_value, p_adjusted, note FROM stats_tests").fetchall()}
    curve = {("real", "centre_point"): "real_centre_point", ("real", "lit"): "real_lit", ("sim", "dark_sim"): "sim_dark"}
    checked = 0
    for scope, pick in (("global", lambda r: True), ("security=1", lambda r: r["security_code"] == 1)):
        for h in (1, 60):
            vals = {}
            for key, name in curve.items():
                x = [r["markout_bps"] for r in done if pick(r) and (r["source"], r["venue"]) == key
                     and r["horizon_s"] == h and r["markout_bps"] is not None]
                vals[name] = x
                n, t, p, _, note = tests[(scope, "all", f"markout_bps:{name}:{h}s", "one_sample_t")]
                ref = sps.ttest_1samp(x, 0.0)
                assert n == len(x) and note is None
                assert t == pytest.approx(ref.statistic, rel=1e-9) and p == pytest.approx(ref.pvalue, rel=1e-9)
                checked += 1
            n, t, p, _, _ = tests[(scope, "all", f"markout_bps:sim_dark-real_lit:{h}s", "welch_t_markout")]
            ref = sps.ttest_ind(vals["sim_dark"], vals["real_lit"], equal_var=False)
            assert n == len(vals["sim_dark"]) + len(vals["real_lit"])
            assert t == pytest.approx(ref.statistic, rel=1e-9) and p == pytest.approx(ref.pvalue, rel=1e-9)
    assert checked == 12
    assert not any(k[0] == "security=2" and k[2].startswith("markout") and v[0] > 200 for k, v in tests.items())
    # the G2 segment has no simulated fill: a note, not a crash
    assert tests[("global", "group=G2", "markout_bps:sim_dark-real_lit:1s", "welch_t_markout")][4] \
        == "simulated dark has fewer than 2 observations (n=0)"
    # one Benjamini-Hochberg adjustment over every test of the run, markouts included
    allp = con.execute("SELECT p_value, p_adjusted FROM stats_tests").fetchall()
    p = np.array([np.nan if a is None else a for a, _ in allp])
    adj = bh_adjust(p)
    assert all((b is None and np.isnan(c)) or b == pytest.approx(c, rel=1e-12) for (_, b), c in zip(allp, adj))


def test_cli_bad_horizons_is_one_line_and_exit_2(tmp_path):
    from conftest import duckpipe_cli
    res = duckpipe_cli("run", "--workspace", str(tmp_path), "--set", "markout_horizons=5,1")
    assert res.returncode == 2
    lines = [x for x in res.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "markout_horizons" in lines[0] and "Traceback" not in res.stderr
