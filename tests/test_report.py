"""The report (SPEC §6) over a small catalog built by hand.

The catalog: two securities (110621, 85603) over three dates. Four units are done, one
failed (85603 on 2024-09-03, whose half-written sweep rows must not be counted) and one is
pending. Sweeps: G1 x3 (two qualifying, simulated in the dark: one matched, one not), G2 x1,
G3 x1 in done units, plus one leftover G1 row of the failed unit. One order id is above 2^53.
The per-unit rows carry the analysis' own keys (participant, arrival hour, the size bucket labels
of ``analysis.steps.size_bucket_labels``) and the aggregates are built from them by the real
aggregate step, so the report is tested on the tables and labels it really gets.

Assertions read the one table cell they mean (``report_html``), not a substring of the page.
"""
from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest
from report_html import figure, md_table, section

from duckpipe.analysis import pipelines
from duckpipe.analysis.aggregate import AGGREGATES, build_aggregates
from duckpipe.analysis.steps import size_bucket_labels
from duckpipe.catalog import ensure_catalog
from duckpipe.errors import EmptyWorkspace
from duckpipe.report.build import build_report, col_kind, col_label, fmt
from duckpipe.settings import PARAMS, resolve

BIG_ID = 2**63 + 12345          # above 2^53: a DOUBLE would round it
D1, D2, D3 = date(2024, 9, 2), date(2024, 9, 3), date(2024, 9, 4)

# Contract tables (SPEC §5), created only when sql/analysis/results_ddl.sql has not yet done so.
CONTRACT = """
CREATE TABLE IF NOT EXISTS order_states (security_code INTEGER, date DATE, order_id UBIGINT, side INTEGER,
  exchangeordertype INTEGER, arrival_ts BIGINT, post_entry_ts BIGINT, final_ts BIGINT, arrival_quantity BIGINT,
  post_entry_leaves BIGINT, final_leaves BIGINT, final_tmq BIGINT);
CREATE TABLE IF NOT EXISTS sweeps (security_code INTEGER, date DATE, order_id UBIGINT, side INTEGER,
  group_id INTEGER, qualifying BOOLEAN, filled_quantity BIGINT, fills INTEGER, fill_ratio DOUBLE, vwap DOUBLE,
  arrival_mid DOUBLE, arrival_cost_bps DOUBLE, vw_cost_bps DOUBLE, time_to_first_fill_s DOUBLE, vwte_s DOUBLE);
CREATE TABLE IF NOT EXISTS scenario_costs (security_code INTEGER, date DATE, order_id UBIGINT, scenario VARCHAR,
  quantity BIGINT, real_cost DOUBLE, scenario_cost DOUBLE, savings DOUBLE, savings_bps DOUBLE);
CREATE TABLE IF NOT EXISTS dark_matches (security_code INTEGER, date DATE, sweep_order_id UBIGINT,
  contra_order_id UBIGINT, match_ts BIGINT, quantity BIGINT, price DOUBLE);
CREATE TABLE IF NOT EXISTS dark_sweeps (security_code INTEGER, date DATE, order_id UBIGINT,
  offered_quantity BIGINT, matched_quantity BIGINT, matches INTEGER, sim_vwap DOUBLE, sim_fill_ratio DOUBLE,
  set_label VARCHAR, reason VARCHAR);
CREATE TABLE IF NOT EXISTS stats_tests (scope VARCHAR, segment VARCHAR, metric VARCHAR, test VARCHAR, n BIGINT,
  statistic DOUBLE, p_value DOUBLE, p_adjusted DOUBLE, effect_size DOUBLE, ci_low DOUBLE, ci_high DOUBLE,
  note VARCHAR);
"""
BUCKETS = [b.label for b in size_bucket_labels(PARAMS["size_buckets"].default)]  # '<100', '100-999', ...
# Rows of each aggregate built from the done units below: keys (security, date, participant,
# arrival hour, size bucket) of their orders and sweeps; the failed unit's keys (participant 999,
# hour 16, bucket 1000-9999) must appear nowhere.
AGG_ROWS = {"agg_global": 1, "agg_by_security": 2, "agg_by_date": 2, "agg_by_participant": 3, "agg_by_hour": 3,
            "agg_by_size": 2, "ts_daily": 2, "ts_hourly": 6}
assert set(AGG_ROWS) == set(AGGREGATES)


COLS = {
    "order_states": "security_code, date, order_id, side, exchangeordertype, arrival_ts, post_entry_ts, final_ts, "
                    "arrival_quantity, post_entry_leaves, final_leaves, final_tmq, participantid, arrival_hour, "
                    "size_bucket_idx, size_bucket",
    "sweeps": "security_code, date, order_id, side, group_id, qualifying, filled_quantity, fills, fill_ratio, vwap, "
              "arrival_mid, arrival_cost_bps, vw_cost_bps, time_to_first_fill_s, vwte_s, participantid, "
              "arrival_hour, size_bucket_idx, size_bucket, filled_value",
    "scenario_costs": "security_code, date, order_id, scenario, quantity, real_cost, scenario_cost, savings, "
                      "savings_bps",
    "dark_matches": "security_code, date, sweep_order_id, contra_order_id, match_ts, quantity, price",
    "dark_sweeps": "security_code, date, order_id, offered_quantity, matched_quantity, matches, sim_vwap, "
                   "sim_fill_ratio, set_label, reason",
    "stats_tests": "scope, segment, metric, test, n, statistic, p_value, p_adjusted, effect_size, ci_low, ci_high, "
                   "note",
    "run_stages": "run_id, stage, started_at, finished_at, duration_s, rows, peak_rss_bytes, spilled_bytes",
}


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple]) -> None:
    """Insert by the contract's column names: the real tables may carry more columns."""
    marks = ", ".join("?" * len(rows[0]))
    cols = f" ({COLS[table]})" if table in COLS else ""
    con.executemany(f"INSERT INTO {table}{cols} VALUES ({marks})", [list(r) for r in rows])


def make_catalog(ws: Path, *, problems: bool = True) -> tuple[duckdb.DuckDBPyConnection, object]:
    """A hand-built catalog in workspace ``ws`` (see the module docstring)."""
    ws.mkdir(parents=True, exist_ok=True)
    settings = resolve(workspace=ws, memory_limit="1GB", threads=2, env={})
    con = duckdb.connect(str(settings.db_path))
    ensure_catalog(con)
    pipelines.get("analysis").create_tables(con)
    for stmt in CONTRACT.split(";"):
        if stmt.strip():
            con.execute(stmt)
    t0 = datetime(2024, 9, 5, 10, 0, 0)
    units = [(110621, D1, "done", 1, None, t0, t0, 1.5, 1200, None, "run-1", 1),
             (85603, D1, "done", 1, None, t0, t0, 0.5, 300, None, "run-1", 1),
             (110621, D2, "done", 1, None, t0, t0, 2.5, 2500, None, "run-1", 2),
             (85603, D2, "failed" if problems else "done", 2, None, t0, t0, 0.1, 0,
              "Binder Error: boom" if problems else None, "run-1", 2),
             (110621, D3, "pending" if problems else "done", 0, None, None, None, None, None, None, None, None)]
    con.executemany("INSERT INTO units (security_code, date, status, attempts, signature, started_at, "
                    "finished_at, duration_s, rows, error, run_id, batch_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    [list(u) for u in units])
    settings_json = json.dumps({"memory_limit": {"value": "1GB", "source": "command line"},
                                "threads": {"value": 2, "source": "machine default"}})
    con.execute("INSERT INTO runs (run_id, started_at, finished_at, status, argv, settings, machine, strategy, "
                "strategy_reason, units_selected, units_done, units_failed, peak_rss_bytes) VALUES "
                "('run-1', ?, ?, 'done', 'duckpipe run', ?, ?, 'by-date', 'a date fits in 40% of the budget', "
                "5, 4, 1, 734003200)",
                [t0, datetime(2024, 9, 5, 10, 0, 9), settings_json, json.dumps({"cores": 8})])
    _insert(con, "run_stages", [("run-1", "analysis", t0, t0, 6.0, 4000, 500_000_000, 1_048_576),
                                ("run-1", "aggregation", t0, t0, 0.4, 20, 400_000_000, 0)])
    def keys(participant: int, hour: int, bucket: int) -> tuple:
        return (participant, hour, bucket, BUCKETS[bucket])
    _insert(con, "order_states", [(110621, D1, BIG_ID, 1, 2048 | 64, 1, 1, 2, 500, 0, 0, 500, *keys(101, 10, 1)),
                                  (110621, D1, 2, 2, 64, 1, 1, 2, 300, 300, 300, 0, *keys(202, 11, 1)),
                                  (85603, D1, 3, 1, 2048 | 64, 1, 1, 2, 100, 100, 100, 0, *keys(303, 14, 1))])
    sweeps = [  # sec, date, id, side, group, qual, Q, fills, ratio, vwap, mid, cost, vwcost, ttff, vwte, keys
        (110621, D1, BIG_ID, 1, 1, True, 500, 2, 1.0, 3340.0, 3335.0, 14.99, 14.0, 0.002, 0.003, *keys(101, 10, 1)),
        (110621, D2, 11, 2, 1, True, 200, 1, 1.0, 3300.0, 3305.0, 15.13, 15.0, 0.001, 0.001, *keys(202, 10, 1)),
        (110621, D2, 12, 1, 1, False, 100, 1, 1.0, 3310.0, 3305.0, 15.13, None, None, None, *keys(202, 11, 1)),
        (110621, D2, 13, 1, 2, False, 50, 1, 0.25, 3320.0, 3305.0, 45.39, None, 0.5, 0.5, *keys(101, 14, 0)),
        (85603, D1, 3, 1, 3, False, 0, 0, 0.0, None, 3000.0, None, None, None, None, *keys(303, 14, 1)),
        (85603, D2, 99, 1, 1, False, 9_999, 1, 1.0, 9000.0, 3000.0, 9999.0, None, None, None,
         *keys(999, 16, 2)),  # failed unit
    ]
    _insert(con, "sweeps", [s + (None if s[9] is None else int(s[9]) * s[6],) for s in sweeps])  # filled value
    costs = []
    for sec, d, oid, _side, g, _, q, *_rest in sweeps:
        if g in (1, 2):
            for name, bps in (("unlimited", 15.0), ("limited_50", 7.5), ("price_impact", 5.0)):
                costs.append((sec, d, oid, name, q, q * 3340.0, q * 3335.0, q * 5.0, bps))
    _insert(con, "scenario_costs", costs)
    _insert(con, "dark_sweeps", [(110621, D1, BIG_ID, 500, 400, 2, 3336.0, 0.8, "A", None),
                                 (110621, D2, 11, 200, 0, 0, None, 0.0, "B", "no_contra_in_window")])
    _insert(con, "dark_matches", [(110621, D1, BIG_ID, 2, 5, 300, 3336.0), (110621, D1, BIG_ID, 7, 6, 100, None)])
    _insert(con, "stats_tests", [   # scopes and segments labelled as sql/stats/_scopes.sql labels them
        ("global", "all", "arrival_cost_bps", "paired_t", 40, 3.2, 0.002, 0.012, 0.5, 1.0, 4.0, None),
        ("global", "all", "fill_ratio", "paired_t", 40, 1.1, 0.3, 0.45, 0.1, -0.1, 0.3, None),
        ("global", "all", "savings_bps:unlimited", "one_sample_t", 1, None, None, None, None, None, None,
         "fewer than 2 observations"),
        ("global", "group=G1", "fill_ratio", "paired_t", 30, 0.9, 0.4, 0.5, 0.1, -0.1, 0.3, None),
        ("global", f"size={BUCKETS[1]}", "fill_ratio", "paired_t", 30, 0.8, 0.4, 0.5, 0.1, -0.1, 0.3, None),
        ("security=110621", "all", "fill_ratio", "paired_t", 20, 0.5, 0.6, 0.7, 0.05, -0.2, 0.2, None)])
    _markouts(con)
    build_aggregates(con, settings)       # the real aggregate step: agg_*, ts_*, agg_markouts*, agg_liquidity*
    return con, settings


def _markouts(con: duckdb.DuckDBPyConnection) -> None:
    """SPEC §5.10 rows: markouts of the BIG_ID sweep (110621 on D1) by venue and horizon, liquidity of
    that unit, and leftovers of the failed unit (quantity 9,999, -999 bps) that must not be counted
    (the real aggregate step builds agg_markouts* and agg_liquidity* from them)."""
    rows = []
    for h, lit, cp, sim in ((1, (-2.0, -4.0), 1.5, (0.5, 1.5)), (60, (-5.0, -7.0), 2.5, (1.0, 3.0))):
        for (source, venue), values in ((("real", "lit"), zip((300, 200), lit)), (("real", "centre_point"), [(100, cp)]),
                                        (("sim", "dark_sim"), zip((400, 100), sim))):
            for q, x in values:
                rows.append((110621, D1, BIG_ID, source, venue, q, h, x, 1, 1))
    rows.append((85603, D2, 99, "real", "lit", 9_999, 1, -999.0, 1, 1))
    con.executemany("INSERT INTO markouts (security_code, date, order_id, source, venue, quantity, horizon_s,"
                    " markout_bps, group_id, size_bucket_idx) VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
    con.executemany("INSERT INTO liquidity (security_code, date, venue, trades, volume, value, eff_spread_bps,"
                    " realized_spread_bps, price_impact_bps, horizon_s, quoted_spread_bps, signed_trades,"
                    " signed_volume, quoted_time_s) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    [(110621, D1, "lit", 10, 1000, 3_340_000, 12.5, 4.5, 8.0, 300, 25.0, 8, 800, 100.0),
                     (110621, D1, "centre_point", 2, 300, 1_002_000, 3.0, 1.0, 2.0, 300, 25.0, 2, 300, 100.0),
                     (85603, D2, "lit", 9_999, 9_999, 9, 999.0, 999.0, 0.0, 300, 999.0, 9_999, 9_999, 1.0)])


@pytest.fixture
def no_charts(monkeypatch):
    """Skip matplotlib in tests about something else: charts cost ~0.4 s each."""
    monkeypatch.setattr("duckpipe.report.build.build_charts", lambda sec: None)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One report over the catalog with problems, shared by the read-only tests (charts are slow)."""
    con, settings = make_catalog(tmp_path_factory.mktemp("report") / "ws")
    result = build_report(con, settings)
    yield con, settings, result
    con.close()


def test_all_outputs_written(built):
    _, settings, r = built
    assert r.out_dir == settings.workspace / "reports"
    for p in (r.html, r.markdown, r.performance):
        assert p.exists() and p.stat().st_size > 500
    assert {p.name for p in r.csv_files} >= {f"{t}.csv" for t in AGG_ROWS} | {"stats_tests.csv"}


def test_html_is_self_contained(built):
    html = built[2].html.read_text()
    assert "http://" not in html and "https://" not in html
    for attr in re.findall(r'(?:src|href)\s*=\s*["\']([^"\']*)', html):
        assert attr.startswith(("#", "data:")), attr[:80]   # in-page anchors or inline data only
    assert "<link" not in html and "@import" not in html and not re.search(r"url\((?!#)", html)


def test_html_has_tables_charts_and_traceability(built):
    html = built[2].html.read_text()
    assert html.count("<svg") >= 4                 # histogram, fill ratio, savings, daily, hourly
    for source in ("sweeps", "scenario_costs", "dark_sweeps", "stats_tests", "units", "run_stages",
                   "agg_by_hour", "agg_by_size", "agg_by_participant", "agg_by_security", "agg_by_date"):
        assert f'data-source="{source}"' in html, source
    # the SQL under a table is the query that made it, scope included (test_report_provenance reruns it)
    groups = figure(html, "sweeps", "Sweep groups").sql
    assert groups.startswith("WITH report_units AS (") and "GROUP BY ROLLUP (group_id)" in groups
    assert "JOIN report_units r" in figure(html, "scenario_costs").sql
    facts = dict(re.findall(r"<dt>([^<]+)</dt><dd>(.*?)</dd>", html))
    assert facts["Strategy"] == "by-date — a date fits in 40% of the budget"
    assert facts["Peak memory"].startswith("700.00 MiB RSS")    # the run's peak_rss_bytes, 734,003,200


def test_markouts_section(built):
    """SPEC §5.10 in the report: curve chart on a log axis, curve table and liquidity by venue, in the
    HTML, the Markdown and the CSV exports; the failed unit's rows count nowhere."""
    _, _, r = built
    html = r.html.read_text()
    sec = section(html, "markouts")
    assert sec.count("<svg") == 1 and "Horizon after the fill (log scale)" in sec
    assert all(f">{h} s<" in sec for h in (1, 60))                   # tick labels of the horizons
    assert "Real Centre Point" in sec and "Real lit" in sec and "Simulated dark" in sec
    curves = figure(html, "agg_markouts")
    mean = "Mean markout (bps)"
    # volume-weighted means: lit (300 x -2 + 200 x -4) / 500, sim (400 x 0.5 + 100 x 1.5) / 500, ...
    assert curves.row(Source="real", Venue="lit", Horizon_seconds="1")[mean] == "-2.80"
    assert curves.row(Source="sim", Venue="dark_sim", Horizon_seconds="1")[mean] == "0.70"
    assert curves.row(Source="real", Venue="lit", Horizon_seconds="60")[mean] == "-5.80"
    assert curves.row(Source="real", Venue="centre_point", Horizon_seconds="60")[mean] == "2.50"
    assert curves.row(Source="real", Venue="lit", Horizon_seconds="1")["Marked fills"] == "2"   # a count, not A$
    liq = figure(html, "agg_liquidity_by_venue").row(Venue="lit")
    assert (liq["Eff spread (bps)"], liq["Quoted spread (bps)"], liq["Trades"]) == ("12.50", "25.00", "10")
    assert "-999" not in sec and "9,999" not in sec                   # the failed unit's rows
    md = r.markdown.read_text()
    assert md_table(md, "Markout curves by source, venue and horizon").row(
        Source="real", Venue="lit", Horizon_seconds="1")[mean] == "-2.80"
    assert md_table(md, "Liquidity by venue class").row(Venue="lit")["Eff spread (bps)"] == "12.50"
    names = {p.stem for p in r.csv_files}
    assert {"agg_markouts", "agg_markouts_by_group", "agg_markouts_by_size", "agg_liquidity",
            "agg_liquidity_by_venue"} <= names


def test_failed_unit_rows_are_not_counted(built):
    html = built[2].html.read_text()
    groups = figure(html, "sweeps", "Sweep groups")
    assert groups.row(Group="All")["Sweeps"] == "5"                  # 5 in done units, not the failed unit's 6th
    assert groups.row(Group="G1")["Filled quantity"] == "800"        # 500 + 200 + 100, not + 9,999
    assert "9,999" not in html and "A$9.000" not in html              # nowhere on the page either
    assert figure(html, "agg_by_participant").column("Participantid") == ["101", "202", "303"]   # not 999
    assert BUCKETS[2] not in figure(html, "agg_by_size").column("Size bucket")


def test_warning_banner_names_problem_units(built):
    html = built[2].html.read_text()
    banner = html[html.index('id="unit-warning"'):]
    banner = banner[:banner.index("</div>")]
    assert "2 of 5 units are not done" in banner
    assert "85603 2024-09-03" in banner and "failed" in banner and "Binder Error: boom" in banner
    assert "110621 2024-09-04" in banner and "pending" in banner
    assert "units are not done" in built[2].markdown.read_text()


def test_no_banner_when_all_done(tmp_path, no_charts):
    con, settings = make_catalog(tmp_path / "ws", problems=False)
    r = build_report(con, settings, tmp_path / "out")
    assert r.html.parent == tmp_path / "out"
    assert 'id="unit-warning"' not in r.html.read_text()
    con.close()


def test_empty_workspace_raises(tmp_path):
    settings = resolve(workspace=tmp_path, memory_limit="1GB", threads=1, env={})
    con = duckdb.connect(str(settings.db_path))
    ensure_catalog(con)
    pipelines.get("analysis").create_tables(con)
    con.execute("INSERT INTO units (security_code, date, status) VALUES (1, DATE '2024-09-02', 'pending')")
    with pytest.raises(EmptyWorkspace, match=r"nothing to report: no units have been run in .*"
                                             r"run 'duckpipe ingest' and 'duckpipe run' first"):
        build_report(con, settings)
    assert not (tmp_path / "reports" / "report.html").exists()
    con.close()


def test_a_selection_with_no_unit_is_nothing_to_do(ran_workspace):
    """As for `run` (README, Filters): a report selection that matches no unit says so, exit 0."""
    from conftest import duckpipe_inproc
    res = duckpipe_inproc("report", "--workspace", str(ran_workspace), "--dates", "2030-01-01")
    assert (res.returncode, res.stdout.strip()) == (0, "nothing to do: no unit matches the selection"), res.stderr
    assert not (ran_workspace / "reports").exists()


def test_formatting_for_people():
    assert fmt(3340, "price") == "A$3.340"
    assert fmt(3_340_000_000, "money") == "A$3,340,000.00"
    assert fmt(12.3456, "bps") == "12.35"
    assert fmt(None, "bps") == "–"
    assert fmt(BIG_ID, "id") == str(BIG_ID)
    assert fmt(1234567) == "1,234,567"
    assert fmt(0.8731, "ratio") == "87.31"
    assert fmt(3e-7, "pvalue") == "<0.0001"
    assert col_kind("security_code") == "id" and fmt(110621, col_kind("security_code")) == "110621"
    assert col_kind("vwap") == "price" and col_kind("savings_bps_unlimited") == "bps"
    assert col_label("savings_bps_limited_50") == "Savings limited 50 (bps)"
    assert col_label("mean_arrival_cost_bps") == "Mean arrival cost (bps)"
    assert col_label("vwap") == "VWAP (A$)" and col_label("time_to_first_fill_s") == "Time to first fill (s)"


def test_numbers_in_report(built):
    html = built[2].html.read_text()
    top = figure(html, "sweeps", "Costliest sweeps (trace them to orders and trades)")
    sweep = top.row(Order_ID=str(BIG_ID))          # order id exact (not through DOUBLE)
    assert sweep["VWAP (A$)"] == "A$3.340"         # 3340 tenths of a cent
    assert sweep["Arrival cost (bps)"] == "14.99"  # bps, two decimals
    assert sweep["Security code"] == "110621" and sweep["Date"] == "2024-09-02"
    summary = figure(html, "agg_global").rows      # measure/value pairs, two a line
    pairs = dict(p for r in summary for p in (r[:2], r[2:]))
    # filled value of the done units' sweeps: (500 x 3340 + 200 x 3300 + 100 x 3310 + 50 x 3320) / 1000
    assert pairs["Filled value (A$)"] == "A$2,827.00" and pairs["Sweeps"] == "5"
    assert figure(html, "agg_by_size").column("Size bucket") == BUCKETS[:2]    # by size: '<100', '100-999'
    md = built[2].markdown.read_text()
    assert md_table(md, "Sweep groups").row(Group="G1")["Sweeps"] == "3"
    sig = md_table(md, "Significant tests (p adjusted < 0.05)")
    assert [(r[2], r[3]) for r in sig.rows] == [("arrival_cost_bps", "paired_t")]   # 0.45 etc. not listed
    assert sig.row(Metric="arrival_cost_bps")["P adjusted"] == "0.0120"


def test_significant_tests_highlighted(built):
    html = built[2].html.read_text()
    stats = figure(html, "stats_tests", "Global tests, all sweeps")
    shaded = [dict(zip(stats.headers, r)) for r, c in zip(stats.rows, stats.classes) if c == "hl"]
    assert [(r["Metric"], r["P adjusted"]) for r in shaded] == [("arrival_cost_bps", "0.0120")]
    segments = figure(html, "stats_tests", "Global tests by segment (group, size bucket)")
    assert segments.column("Segment") == ["group=G1", f"size={BUCKETS[1]}"]
    assert figure(html, "stats_tests", "Per-security tests").column("Scope") == ["security=110621"]


def test_dark_comparison(built):
    html = built[2].html.read_text()
    sets = figure(html, "dark_sweeps")
    assert sets.row(Set_label="B")["Reason"] == "no_contra_in_window"
    assert sets.row(Set_label="A")["Matched quantity"] == "400"
    comp = figure(html, "sweeps ⋈ dark_sweeps", "Real versus simulated, set-A sweeps")
    cost = comp.row(Metric="Arrival cost (bps)")
    # the set-A sweep: real 14.99 bps; simulated (3336 - 3335) / 3335 * 1e4 = 2.9985 bps
    assert (cost["Real"], cost["Simulated"], cost["Simulated − real"]) == ("14.99", "3.00", "-11.99")
    assert comp.row(Metric="Fill ratio (%)")["Simulated"] == "80.00"
    assert "1 without a valid mid" in section(html, "dark")


def test_csv_exports_row_counts(built):
    _, _, r = built
    by_name = {p.stem: p for p in r.csv_files}
    for table, n in AGG_ROWS.items():
        with open(by_name[table], newline="") as fh:
            assert sum(1 for _ in csv.reader(fh)) == n + 1, table
    with open(by_name["stats_tests"], newline="") as fh:
        assert sum(1 for _ in csv.reader(fh)) == 7


def test_csv_path_is_quoted_not_concatenated(tmp_path, no_charts):
    con, settings = make_catalog(tmp_path / "ws")
    out = tmp_path / "it's here"
    r = build_report(con, settings, out)
    assert (out / "csv" / "agg_global.csv").exists() and r.csv_files
    con.close()


def test_performance_report(built):
    text = built[2].performance.read_text()
    run = dict(md_table(text, "Last run").rows)
    assert run["Run id"] == "`run-1`" and run["Strategy"] == "by-date — a date fits in 40% of the budget"
    assert run["Spilled to disk"] == "1.00 MiB" and run["Peak memory (run)"] == "700.00 MiB"
    stages = md_table(text, "Stages of the last run")
    assert [r[0] for r in stages.rows] == ["aggregation", "analysis"]     # same start: by name
    # rows/s of the slowest unit: 2500 rows in 2.5 s
    slowest = md_table(text, "Slowest units")
    assert slowest.rows[0][:2] == ["110621", "2024-09-03"] and slowest.row(Date="2024-09-03")["Rows per second"] == "1,000"
    assert md_table(text, "Per-unit timings").rows[0][8] == "4,000"      # rows of the done units
    assert dict((r[0], r[2]) for r in md_table(text, "Settings").rows)["`memory_limit`"] == "command line"


def test_units_filter_restricts_results(tmp_path, no_charts):
    con, settings = make_catalog(tmp_path / "ws")
    r = build_report(con, settings, tmp_path / "out", units_filter=[(85603, D1)])
    html = r.html.read_text()
    assert figure(html, "sweeps", "Sweep groups").column("Group") == ["G3", "All"]
    assert figure(html, "units", "Units").column("Security code") == ["85603"]
    assert any("units filter" in w for w in r.warnings)
    con.close()


def test_missing_tables_become_warnings(tmp_path, no_charts):
    con, settings = make_catalog(tmp_path / "ws", problems=False)
    for t in ("dark_sweeps", "stats_tests", "agg_by_participant", "ts_hourly"):
        con.execute(f"DROP TABLE {t}")
    r = build_report(con, settings)
    assert r.html.exists() and any("dark_sweeps" in w for w in r.warnings)
    assert "agg_by_participant.csv" not in {p.name for p in r.csv_files}
    con.close()


# ------------------------------------------------------------------ the real pipeline

@pytest.mark.slow
def test_report_over_a_real_run(tmp_path):
    """synth -> ingest -> run -> report through the API: the report reads the real result tables."""
    from duckpipe import api
    ws = tmp_path / "ws"
    api.synth(ws / "data" / "raw", securities=2, days=2, orders_per_unit=300, seed=3)
    settings = resolve(workspace=ws, memory_limit="1GB", threads=2, env={})
    api.ingest(settings)
    api.run(settings, quiet=True)
    r = api.report(settings)
    assert r.warnings == [], r.warnings            # every section found its tables and columns
    html = r.html.read_text()
    assert html.count("<svg") == 6 and 'id="unit-warning"' not in html
    assert "Markout curves" in html and "Liquidity by venue class" in html
    con = duckdb.connect(str(settings.db_path), read_only=True)
    try:
        for p in r.csv_files:
            n = con.execute(f'SELECT count(*) FROM "{p.stem}"').fetchall()[0][0]
            with open(p, newline="") as fh:
                assert sum(1 for _ in csv.reader(fh)) == n + 1, p.name
        stage = con.execute("SELECT count(*) FROM run_stages WHERE stage = 'report'").fetchall()[0][0]
        assert stage == 1                          # the report is recorded as a stage of the run
    finally:
        con.close()


# ------------------------------------------------------------------ real browser

def _chromium() -> str | None:
    return next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p),
                None)


# Injected into a copy of the report: records every resource the page fetched, every load error
# (captured on window) and console error, and what actually rendered, into a <pre> that
# --dump-dom prints. Chromium's own stderr does not report these reliably.
PROBE = """<script>
window.__errs = [];
window.addEventListener('error', e => __errs.push((e.target && (e.target.src || e.target.href)) || e.message), true);
console.error = (...a) => __errs.push('console: ' + a.join(' '));
window.addEventListener('load', () => {
  const pre = document.createElement('pre'); pre.id = '__probe';
  pre.textContent = JSON.stringify({
    errors: __errs,
    resources: performance.getEntriesByType('resource').map(r => r.name),
    tables: document.querySelectorAll('table').length,
    charts: [...document.querySelectorAll('svg.chart')].filter(s => s.getBoundingClientRect().width > 100).length,
    banner: !!document.getElementById('unit-warning'),
    markout_chart: (s => s ? Math.round(s.getBoundingClientRect().width) : 0)(document.querySelector('#markouts svg.chart')),
    markout_points: document.querySelectorAll('#markouts svg.chart [id*="line2d"]').length,
    header_bg: getComputedStyle(document.querySelector('header.top')).backgroundColor});
  document.body.appendChild(pre);
});
</script>"""


def _chromium_args(exe: str, profile: Path) -> list[str]:
    return [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", f"--user-data-dir={profile}"]


def _probe(exe: str, html: Path, tmp: Path) -> dict:
    """Load ``html`` (with PROBE injected) in headless Chromium and return what the probe saw."""
    copy = tmp / f"probe-{html.name}"
    copy.write_text(html.read_text().replace("<head>", "<head>" + PROBE, 1))
    out = subprocess.run(_chromium_args(exe, tmp / "profile") + ["--virtual-time-budget=3000", "--dump-dom",
                                                                 copy.as_uri()],
                         capture_output=True, text=True, timeout=120, env=dict(os.environ, HOME=str(tmp)))
    assert out.returncode == 0, out.stderr[-2000:]
    m = re.search(r'<pre id="__probe">(.*?)</pre>', out.stdout, re.S)
    assert m, "the page never finished loading"
    return json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<")
                      .replace("&gt;", ">"))


@pytest.mark.browser
def test_renders_in_headless_chromium(built, tmp_path):
    """The report renders in a real browser: tables, sized charts, styles, nothing fetched or failed."""
    exe = _chromium()
    if exe is None:
        pytest.skip("no chromium on PATH (CI: apt-get install -y chromium)")
    seen = _probe(exe, built[2].html, tmp_path)
    assert seen["errors"] == [] and seen["resources"] == [], seen
    assert seen["tables"] >= 12 and seen["charts"] >= 5 and seen["banner"], seen
    assert seen["markout_chart"] > 300 and seen["markout_points"] >= 3, seen   # the markout curves drew
    assert seen["header_bg"] == "rgb(18, 38, 58)"        # the inline CSS applied
    shot = tmp_path / "report.png"
    subprocess.run(_chromium_args(exe, tmp_path / "profile") + [
        "--hide-scrollbars", "--window-size=1280,2400", f"--screenshot={shot}", built[2].html.as_uri()],
        capture_output=True, timeout=120, env=dict(os.environ, HOME=str(tmp_path)), check=True)
    assert shot.stat().st_size > 20_000                  # a rendered page, not a blank one
    if os.environ.get("DUCKPIPE_KEEP_SCREENSHOT"):
        shutil.copy(shot, os.environ["DUCKPIPE_KEEP_SCREENSHOT"])


@pytest.mark.browser
def test_browser_probe_catches_broken_pages(tmp_path):
    """The probe is honest: a missing image and a console error are reported."""
    exe = _chromium()
    if exe is None:
        pytest.skip("no chromium on PATH (CI: apt-get install -y chromium)")
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><head></head><body><header class="top"></header>'
                    '<img src="missing.png"><script>console.error("boom")</script></body></html>')
    seen = _probe(exe, page, tmp_path)
    assert any("missing.png" in e for e in seen["errors"]) and "console: boom" in seen["errors"], seen


def test_empty_result_tables(tmp_path):
    """Done units but no rows anywhere (e.g. a day without Centre Point sweeps): no crash, dashes."""
    con, settings = make_catalog(tmp_path / "ws", problems=False)
    for t in ["order_states", "sweeps", "scenario_costs", "dark_matches", "dark_sweeps", "stats_tests",
              "markouts", "liquidity"]:
        con.execute(f"DELETE FROM {t}")
    build_aggregates(con, settings)
    for t in AGG_ROWS:                 # no rows at all (the real step keeps agg_global's one row of zeros)
        con.execute(f"DELETE FROM {t}")
    r = build_report(con, settings)
    html = r.html.read_text()
    assert r.warnings == [] and "No rows." in html and "<svg" not in html
    assert all(p.read_text().count("\n") == 1 for p in r.csv_files if p.stem in AGG_ROWS)   # header only
    con.close()
