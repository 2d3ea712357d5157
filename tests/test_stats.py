"""stats_tests against scipy on the raw observations (SPEC §5.8).

The fixture is a seeded random set of sweeps for two securities on one done date, plus a
failed unit (security 2, second date) whose values are shifted by +1000 so that any leak into a
statistic is visible. Expected values come from scipy on arrays filtered in plain Python.
"""
from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from scipy import stats as sps

from duckpipe.analysis import pipelines
from duckpipe.analysis.stats import bh_adjust, compute_stats
from duckpipe.catalog import ensure_catalog
from duckpipe.settings import DEFAULT_SCENARIOS, Settings

D1, D2 = dt.date(2024, 9, 5), dt.date(2024, 9, 6)
BUCKETS = ["<100", "100-1000", "1000-10000"]
SCENARIOS = [s["name"] for s in DEFAULT_SCENARIOS]
REL = 1e-9

PAIRED = {"fill_ratio": ("real_fill_ratio", "sim_fill_ratio"),
          "time_to_first_fill_s": ("real_time_to_first_fill_s", "sim_time_to_first_fill_s"),
          "vwte_s": ("real_vwte_s", "sim_vwte_s"),
          "arrival_cost_bps": ("real_arrival_cost_bps", "sim_arrival_cost_bps")}


def make_catalog(path: Path | str = ":memory:") -> duckdb.DuckDBPyConnection:
    """The real catalog (sql/catalog/ and the analysis' result DDL): result tables as the analysis defines them."""
    con = duckdb.connect(str(path))
    ensure_catalog(con)
    pipelines.get("analysis").create_tables(con)
    return con


def insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict]) -> None:
    """Insert dict rows by name (missing columns NULL)."""
    if not rows:
        return
    con.register("rows_in", pa.Table.from_pylist(rows))
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM rows_in")
    finally:
        con.unregister("rows_in")


def set_units(con: duckdb.DuckDBPyConnection, units: list[tuple[int, dt.date, str]]) -> None:
    con.executemany("INSERT INTO units (security_code, date, status) VALUES (?, ?, ?)", units)


def settings(tmp_path: Path) -> Settings:
    return Settings(workspace=tmp_path, memory_limit="1GB", threads=2, temp_dir=tmp_path / "tmp",
                    params={"size_buckets": [100, 1000, 10000]}, scenarios=DEFAULT_SCENARIOS)


def random_data(seed: int = 7) -> dict[str, list[dict]]:
    """60 sweeps per unit for (1, D1), (2, D1) done and (2, D2) failed (+1000 shifted)."""
    rng = np.random.default_rng(seed)
    data: dict[str, list[dict]] = {"sweeps": [], "dark_sweeps": [], "scenario_costs": []}
    for code, date, shift in ((1, D1, 0.0), (2, D1, 0.0), (2, D2, 1000.0)):
        for i in range(60):
            key = {"security_code": code, "date": date, "order_id": 10**18 + code * 1000 + i}
            g = int(rng.choice([1, 2, 3], p=[0.5, 0.35, 0.15]))
            executed = g in (1, 2)
            bucket = str(rng.choice(BUCKETS))
            vw = float(rng.normal(2, 3)) + shift if executed and rng.random() > 0.1 else None
            data["sweeps"].append({**key, "group_id": g, "size_bucket": bucket,
                                   "qualifying": g == 1,
                                   "arrival_cost_bps": float(rng.normal(g, 2)) + shift if executed else None,
                                   "vw_cost_bps": vw,
                                   "time_to_first_fill_s": float(rng.exponential(g)) + shift if executed else None})
            if g == 1:
                a = rng.random() < 0.7
                row = {**key, "set_label": "A" if a else "B", "real_fill_ratio": 1.0,
                       "real_time_to_first_fill_s": float(rng.exponential(1)) + shift,
                       "real_vwte_s": float(rng.exponential(2)) + shift,
                       "real_arrival_cost_bps": float(rng.normal(1, 2)) + shift}
                if a:
                    row.update(sim_fill_ratio=float(rng.uniform(0.1, 1)),
                               sim_time_to_first_fill_s=float(rng.exponential(3)),
                               sim_vwte_s=float(rng.exponential(4)),
                               sim_arrival_cost_bps=float(rng.normal(0, 1)))
                data["dark_sweeps"].append(row)
            if executed:
                for j, name in enumerate(SCENARIOS):
                    data["scenario_costs"].append({**key, "scenario": name,
                                                   "savings_bps": float(rng.normal(j, 2)) + shift})
    return data


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The random fixture loaded and compute_stats run once; yields (rows by key, data, count)."""
    tmp = tmp_path_factory.mktemp("stats")
    con = make_catalog()
    data = random_data()
    set_units(con, [(1, D1, "done"), (2, D1, "done"), (2, D2, "failed")])
    for table, rows in data.items():
        insert(con, table, rows)
    count = compute_stats(con, settings(tmp))
    cur = con.execute("SELECT * FROM stats_tests")
    names = [d[0] for d in cur.description]
    rows = {(r["scope"], r["segment"], r["test"], r["metric"]): r
            for r in (dict(zip(names, t)) for t in cur.fetchall())}
    yield rows, data, count, con
    con.close()


def done(rows: list[dict], scope: str = "global") -> list[dict]:
    """Rows of done units (not (2, D2)) within a scope."""
    out = [r for r in rows if not (r["security_code"] == 2 and r["date"] == D2)]
    if scope != "global":
        out = [r for r in out if f"security={r['security_code']}" == scope]
    return out


def sweep_of(data: dict) -> dict:
    return {(r["security_code"], r["date"], r["order_id"]): r for r in data["sweeps"]}


def in_segment(sweep: dict, segment: str) -> bool:
    return (segment == "all" or segment == f"size={sweep['size_bucket']}"
            or segment == f"group=G{sweep['group_id']}")


def close(a, b) -> bool:
    return math.isclose(a, b, rel_tol=REL, abs_tol=1e-300)


SCOPES = ["global", "security=1", "security=2"]


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("segment", ["all", "size=<100", "size=1000-10000"])
@pytest.mark.parametrize("metric", list(PAIRED))
def test_paired_t_matches_scipy(run, scope, segment, metric):
    rows, data, _, _ = run
    sw = sweep_of(data)
    real_col, sim_col = PAIRED[metric]
    sel = [r for r in done(data["dark_sweeps"], scope) if r["set_label"] == "A"
           and in_segment(sw[(r["security_code"], r["date"], r["order_id"])], segment)]
    real = np.array([r[real_col] for r in sel])
    sim = np.array([r[sim_col] for r in sel])
    got = rows[(scope, segment, "paired_t", metric)]
    ref = sps.ttest_rel(real, sim)
    diff = real - sim
    assert got["n"] == len(sel) >= 3
    assert close(got["statistic"], ref.statistic) and close(got["p_value"], ref.pvalue)
    assert close(got["effect_size"], diff.mean() / diff.std(ddof=1))
    ci = ref.confidence_interval(0.95)
    half = sps.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / math.sqrt(len(diff))
    assert close(got["ci_low"], ci.low) and close(got["ci_high"], ci.high)
    assert close(got["ci_low"], diff.mean() - half) and close(got["ci_high"], diff.mean() + half)
    assert close(got["estimate"], diff.mean()) and got["note"] is None


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("segment", ["all", "size=100-1000", "group=G1", "group=G2"])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_one_sample_savings_matches_scipy(run, scope, segment, scenario):
    rows, data, _, _ = run
    sw = sweep_of(data)
    x = np.array([r["savings_bps"] for r in done(data["scenario_costs"], scope)
                  if r["scenario"] == scenario
                  and in_segment(sw[(r["security_code"], r["date"], r["order_id"])], segment)])
    got = rows[(scope, segment, "one_sample_t", f"savings_bps:{scenario}")]
    ref = sps.ttest_1samp(x, 0.0)
    ci = ref.confidence_interval(0.95)
    assert got["n"] == len(x)
    assert close(got["statistic"], ref.statistic) and close(got["p_value"], ref.pvalue)
    assert close(got["effect_size"], x.mean() / x.std(ddof=1))
    assert close(got["ci_low"], ci.low) and close(got["ci_high"], ci.high)


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("segment", ["all", "size=<100"])
@pytest.mark.parametrize("metric", ["arrival_cost_bps", "vw_cost_bps", "time_to_first_fill_s"])
def test_welch_g1_vs_g2_matches_scipy(run, scope, segment, metric):
    rows, data, _, _ = run
    sel = [r for r in done(data["sweeps"], scope) if in_segment(r, segment) and r[metric] is not None]
    g1 = np.array([r[metric] for r in sel if r["group_id"] == 1])
    g2 = np.array([r[metric] for r in sel if r["group_id"] == 2])
    got = rows[(scope, segment, "welch_t", metric)]
    ref = sps.ttest_ind(g1, g2, equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert got["n"] == len(g1) + len(g2)
    assert close(got["statistic"], ref.statistic) and close(got["p_value"], ref.pvalue)
    assert close(got["df"], ref.df)
    assert close(got["ci_low"], ci.low) and close(got["ci_high"], ci.high)
    pooled = math.sqrt(((len(g1) - 1) * g1.var(ddof=1) + (len(g2) - 1) * g2.var(ddof=1))
                       / (len(g1) + len(g2) - 2))
    assert close(got["effect_size"], (g1.mean() - g2.mean()) / pooled)


def _eta_squared(groups: list[np.ndarray]) -> float:
    allv = np.concatenate(groups)
    ssb = sum(len(g) * (g.mean() - allv.mean()) ** 2 for g in groups)
    return ssb / ((allv - allv.mean()) ** 2).sum()


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("segment", ["all", "group=G2"])
def test_anova_cost_across_size_buckets_matches_scipy(run, scope, segment):
    rows, data, _, _ = run
    sel = [r for r in done(data["sweeps"], scope)
           if in_segment(r, segment) and r["arrival_cost_bps"] is not None]
    groups = [np.array([r["arrival_cost_bps"] for r in sel if r["size_bucket"] == b]) for b in BUCKETS]
    got = rows[(scope, segment, "anova_size_bucket", "arrival_cost_bps")]
    ref = sps.f_oneway(*groups)
    assert got["n"] == len(sel) and got["df"] == 2 and got["df2"] == len(sel) - 3
    assert close(got["statistic"], ref.statistic) and close(got["p_value"], ref.pvalue)
    assert close(got["effect_size"], _eta_squared(groups))


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("segment", ["all", "size=1000-10000", "group=G1"])
def test_anova_savings_across_scenarios_matches_scipy(run, scope, segment):
    rows, data, _, _ = run
    sw = sweep_of(data)
    sel = [r for r in done(data["scenario_costs"], scope)
           if in_segment(sw[(r["security_code"], r["date"], r["order_id"])], segment)]
    groups = [np.array([r["savings_bps"] for r in sel if r["scenario"] == s]) for s in SCENARIOS]
    got = rows[(scope, segment, "anova_scenario", "savings_bps")]
    ref = sps.f_oneway(*groups)
    assert close(got["statistic"], ref.statistic) and close(got["p_value"], ref.pvalue)
    assert close(got["effect_size"], _eta_squared(groups))


def test_failed_unit_is_excluded_and_scopes_complete(run):
    rows, data, count, _ = run
    assert count == len(rows)
    assert {k[0] for k in rows} == set(SCOPES)
    # segments where meaningful: the group is the factor of Welch, all qualifying sweeps are G1,
    # and the size bucket is the factor of anova_size_bucket
    kinds = {}
    for _scope, segment, test, _ in rows:
        kinds.setdefault(test, set()).add(segment.split("=")[0])
    assert kinds == {"paired_t": {"all", "size"}, "welch_t": {"all", "size"},
                     "one_sample_t": {"all", "size", "group"}, "anova_scenario": {"all", "size", "group"},
                     "anova_size_bucket": {"all", "group"}}
    # 3 scopes x segments (all + 3 buckets, + G1/G2 where meaningful) x metrics
    assert count == 3 * (4 * 4 + 4 * 3 + 6 * 3 + 6 * 1 + 3 * 1)
    n_done = sum(1 for r in done(data["scenario_costs"]) if r["scenario"] == "unlimited")
    n_all = sum(1 for r in data["scenario_costs"] if r["scenario"] == "unlimited")
    assert rows[("global", "all", "one_sample_t", "savings_bps:unlimited")]["n"] == n_done < n_all
    # the failed unit's values are shifted by +1000: no mean may come near that
    assert all(abs(r["estimate"]) < 100 for r in rows.values() if r["estimate"] is not None)


def test_p_adjusted_is_bh_over_the_whole_run(run):
    rows, _, _, _ = run
    tests = [r for r in rows.values() if r["p_value"] is not None]
    p = np.array([r["p_value"] for r in tests])
    expected = sps.false_discovery_control(p, method="bh")
    assert len(tests) > 100
    assert all(close(r["p_adjusted"], e) for r, e in zip(tests, expected))
    assert all(r["p_adjusted"] is None for r in rows.values() if r["p_value"] is None)


def test_bh_hand_computed():
    # sorted p: .005 .01 .03 .04 (m = 4) -> p*m/rank .02 .02 .04 .04, then the running minimum
    # from the largest rank down leaves them unchanged; NaN stays NaN and does not count in m.
    got = bh_adjust(np.array([0.01, 0.04, np.nan, 0.03, 0.005]))
    np.testing.assert_allclose(got, [0.02, 0.04, np.nan, 0.04, 0.02], rtol=1e-12)
    # monotonicity step: .01*3/1 = .03 but rank 2 gives .02*3/2 = .03, rank 3 .05 -> .03 .03 .05
    np.testing.assert_allclose(bh_adjust(np.array([0.01, 0.02, 0.05])), [0.03, 0.03, 0.05])
    np.testing.assert_allclose(bh_adjust(np.array([0.04, 0.01, 0.02])), [0.04, 0.03, 0.03])


def test_edge_cases_give_null_with_a_note(tmp_path):
    """Security 5: one set-A sweep (n = 1); savings all equal (zero variance); one G2 sweep;
    all sweeps in one size bucket (ANOVA with one group)."""
    con = make_catalog()
    set_units(con, [(5, D1, "done")])
    key = {"security_code": 5, "date": D1}
    sweeps = [{**key, "order_id": i, "group_id": 1 if i < 3 else 2, "size_bucket": "<100",
               "arrival_cost_bps": float(i), "vw_cost_bps": float(i), "time_to_first_fill_s": 1.0}
              for i in range(4)]
    insert(con, "sweeps", sweeps)
    insert(con, "dark_sweeps", [{**key, "order_id": 0, "set_label": "A", "real_fill_ratio": 1.0,
                                 "sim_fill_ratio": 0.5}])
    insert(con, "scenario_costs", [{**key, "order_id": i, "scenario": "unlimited",
                                    "savings_bps": 2.5} for i in range(4)])
    compute_stats(con, settings(tmp_path))
    got = {(r[0], r[1], r[2], r[3]): r[4:] for r in con.execute(
        "SELECT scope, segment, test, metric, n, statistic, p_value, p_adjusted, note "
        "FROM stats_tests").fetchall()}
    assert got[("global", "all", "paired_t", "fill_ratio")] == (
        1, None, None, None, "fewer than 2 observations (n=1)")
    assert got[("global", "all", "one_sample_t", "savings_bps:unlimited")] == (
        4, None, None, None, "zero variance")
    assert got[("global", "all", "welch_t", "arrival_cost_bps")] == (
        4, None, None, None, "G2 has fewer than 2 observations (n=1)")
    assert got[("global", "all", "welch_t", "time_to_first_fill_s")][-1] == "G2 has fewer than 2 observations (n=1)"
    assert got[("global", "all", "anova_size_bucket", "arrival_cost_bps")] == (
        4, None, None, None, "fewer than 2 groups (k=1)")
    assert got[("global", "all", "anova_scenario", "savings_bps")][-1] == "fewer than 2 groups (k=1)"
    con.close()


def test_empty_results_give_empty_table(tmp_path):
    con = make_catalog()
    assert compute_stats(con, settings(tmp_path)) == 0
    cols = [d[0] for d in con.execute("SELECT * FROM stats_tests").description]
    assert cols[:12] == ["scope", "segment", "metric", "test", "n", "statistic", "p_value",
                         "p_adjusted", "effect_size", "ci_low", "ci_high", "note"]
    con.close()


def same_rows(a: list[tuple], b: list[tuple]) -> bool:
    """Equal up to 1e-9 relative on floats (parallel sums may differ in the last bits: SPEC §4)."""
    return len(a) == len(b) and all(
        len(x) == len(y) and all(
            math.isclose(u, v, rel_tol=REL) if isinstance(u, float) and isinstance(v, float)
            else u == v for u, v in zip(x, y))
        for x, y in zip(a, b))


def test_rebuild_is_identical_and_rolls_back_with_the_callers_transaction(run, tmp_path):
    _, _, count, con = run
    query = "SELECT * FROM stats_tests ORDER BY scope, segment, test, metric"
    before = con.execute(query).fetchall()
    assert compute_stats(con, settings(tmp_path)) == count
    assert same_rows(con.execute(query).fetchall(), before)
    con.execute("BEGIN TRANSACTION")
    con.execute("DELETE FROM scenario_costs")
    compute_stats(con, settings(tmp_path))       # joins the caller's transaction
    assert con.execute("SELECT count(*) FROM stats_tests WHERE metric LIKE 'savings%'").fetchall()[0][0] == 0
    con.execute("ROLLBACK")
    assert same_rows(con.execute(query).fetchall(), before)
