"""Profiles are data (SPEC §3): a second profile, defined here in the test suite, gives the asx figures.

The ``lse_test`` profile differs from asx in everything a profile carries: time zone
(Europe/London), price scale (10000 price units per pound: prices x10), currency symbol, raw
column names of a few columns, and every code set (order type bits, dealsource codes,
changereason codes). The synth data is converted to it (timestamps shifted so that London
wall-clock times and business dates equal the Sydney ones: 2024-09-02..03, no DST change in
either zone; prices x10; codes mapped), both workspaces are ingested and run, and the per-unit
results must be the asx ones, transformed by the same map.
"""
from __future__ import annotations

import dataclasses
import math
import re
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

from duckpipe import api
from duckpipe.analysis import pipelines
from duckpipe.analysis.steps import render_batch_sql
from duckpipe.profiles import Column, Profile, asx, get_profile, local_date_sql, register_profile, unregister_profile
from duckpipe.settings import resolve
from duckpipe.sqlrender import int_literals
from duckpipe.synth import synth

REPO = Path(__file__).resolve().parents[1]
SHIFT_NS = 9 * 3600 * 10**9          # London BST (UTC+1) wall clock = Sydney AEST (UTC+10) wall clock
PRICE_FACTOR = 10                    # 10000 price units per currency unit instead of 1000
BITS = {64: 1, 256: 8, 2048: 16, 4096: 32, 2: 128}                     # asx bit -> lse_test bit
DEALSOURCE = {46: 71, 47: 72, 48: 73, 1: 11, 44: 14, 20: 21, 45: 25, 5: 9}
CHANGEREASON = {6: 61, 3: 33, 5: 55, 1: 11, 9: 99, 24: 42, 30: 300}
RAW = {("orders", "order_id"): "OrderID", ("orders", "price"): "Px", ("trades", "tradeprice"): "TradePx",
       ("trades", "dealsource"): "Venue", ("nbbo", "bidprice"): "BidPx"}
PRICES = {"orders": ["price", "national_bid", "national_offer", "bid", "offer"],
          "trades": ["nationalbidpricesnapshot", "nationalofferpricesnapshot", "tradeprice"],
          "nbbo": ["bidprice", "offerprice"]}
TIMES = {"orders": ["timestamp"], "trades": ["tradetime"], "nbbo": ["timestamp", "creationtime", "tradedate"]}
CODES = {("orders", "exchangeordertype"): "bits", ("orders", "changereason"): "cr", ("trades", "dealsource"): "ds"}

# result columns (per-unit tables and aggregates) and how the lse_test value follows from the asx one
PRICE_COLS = {"arrival_price", "final_price", "arrival_national_bid", "arrival_national_offer", "arrival_mid",
              "arrival_spread", "nbbo_arrival_mid", "filled_value", "vwap", "effective_spread", "real_cost",
              "scenario_cost", "savings", "price", "sim_vwap", "real_vwap"}
TS_COLS = {"arrival_ts", "post_entry_ts", "final_ts", "first_fill_ts", "last_fill_ts", "match_ts",
           "window_start_ts", "window_end_ts"}
KEYS = {"order_states": "security_code, date, order_id", "sweeps": "security_code, date, order_id",
        "scenario_costs": "security_code, date, order_id, scenario",
        "dark_matches": "security_code, date, sweep_order_id, match_no",
        "dark_sweeps": "security_code, date, order_id", "units": "security_code, date"}


def bits_map(v: int) -> int:
    out = 0
    for a, b in BITS.items():
        if v & a:
            out |= b
    assert v & ~sum(BITS) == 0, f"synth used an unmapped order type bit in {v}"
    return out


def _lse_profile() -> Profile:
    a = asx.PROFILE
    london_date = local_date_sql('"timestamp"', "Europe/London")
    tables = {}
    for name, t in a.tables.items():
        cols = tuple(dataclasses.replace(c, raw=RAW.get((name, c.name))) for c in t.columns)
        tables[name] = dataclasses.replace(t, columns=cols,
                                           date_expr=london_date if t.date_expr == asx.SYDNEY_DATE else t.date_expr)
    return dataclasses.replace(
        a, name="lse_test", tables=tables, time_zone="Europe/London", price_scale=a.price_scale * PRICE_FACTOR,
        price_unit="hundredths of a penny", currency_code="GBP", currency_symbol="£",
        order_type_bits={k: BITS[v] for k, v in a.order_type_bits.items()},
        venue_classes={k: tuple(DEALSOURCE[c] for c in v) for k, v in a.venue_classes.items()},
        changereasons={k: CHANGEREASON[v] for k, v in a.changereasons.items()},
        changereason_labels={CHANGEREASON[k]: v for k, v in a.changereason_labels.items()},
        qualifying_dealsources=tuple(DEALSOURCE[c] for c in a.qualifying_dealsources))


@pytest.fixture(scope="module")
def lse():
    profile = _lse_profile()
    register_profile(profile)
    yield profile
    unregister_profile(profile.name)


# ------------------------------------------------------------------ converting the raw files

def _rewrite_csv(path: Path, out: Path, ints: set[str], change, header=None) -> None:
    """Read a CSV (``ints`` as int64, the rest as text, kept verbatim), apply ``change(name, array)``
    per column and write it with ``header`` (default: the same names)."""
    names = path.read_text().split("\n", 1)[0].split(",")
    data = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
        column_types={n: pa.int64() if n in ints else pa.string() for n in names}, strings_can_be_null=False))
    cols = [change(n, data[n]) for n in names]
    sink = pa.BufferOutputStream()
    pacsv.write_csv(pa.table(cols, names=names), sink, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes((",".join(header or names) + "\n").encode() + sink.getvalue().to_pybytes())


def _add_reports_and_auctions(raw: Path) -> None:
    """Synth's sweeps fill on lit and Centre Point only: turn some of their match groups into trade
    reports (the buy row's order id on both rows, as ASX reports them) and auction trades, so that
    every venue class and the count-a-trade-report-once rule take part in the figures."""
    for path in sorted((raw / "trades").glob("*.csv")):
        data = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            column_types={"matchgroupid": pa.int64(), "orderid": pa.int64()}))
        mg, oid = data["matchgroupid"].to_numpy(), data["orderid"].to_numpy().copy()
        report, auction = mg % 7 == 0, (mg % 11 == 0) & (mg % 7 != 0)
        second = np.flatnonzero(report[1:] & (mg[1:] == mg[:-1])) + 1
        oid[second] = oid[second - 1]

        def change(n, col, report=report, auction=auction, oid=oid):
            if n == "dealsource":
                ds = col.to_numpy()
                return pa.array(np.where(report, 5, np.where(auction, 20, ds)))
            return pa.array(oid) if n == "orderid" else col
        _rewrite_csv(path, path, {"dealsource", "orderid"}, change)


def _convert(src: Path, dst: Path, profile: Profile) -> None:
    """Rewrite the synth CSVs for ``profile``: raw headers, shifted times, scaled prices, mapped codes."""
    for path in sorted(src.rglob("*.csv")):
        rel = path.relative_to(src)
        table = rel.parts[0]
        if table not in PRICES:                      # reference tables: unchanged
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            (dst / rel).write_bytes(path.read_bytes())
            continue

        def change(n, col, table=table):
            if n in PRICES[table]:                  # sentinels and zeros stay: validity is unchanged
                return pc.if_else(pc.greater(col, 0), pc.multiply(col, PRICE_FACTOR), col)
            if n in TIMES[table]:
                return pc.add(col, SHIFT_NS)
            if (table, n) in CODES:
                fn = {"bits": bits_map, "cr": CHANGEREASON.__getitem__, "ds": DEALSOURCE.__getitem__}[CODES[table, n]]
                return pa.array([None if v is None else fn(v) for v in col.to_pylist()], pa.int64())
            return col
        names = path.read_text().split("\n", 1)[0].split(",")
        header = [next((c.header for c in profile.tables[table].columns if c.name == n), n) for n in names]
        _rewrite_csv(path, dst / rel, set(PRICES[table]) | set(TIMES[table]) | {c for t, c in CODES if t == table},
                     change, header)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, lse, monkeypatch_module):
    """The same synth data as asx and as lse_test, each ingested, run and reported in its workspace."""
    monkeypatch_module.setattr("duckpipe.report.build.build_charts", lambda sec: None)   # charts: slow, not tested
    base = tmp_path_factory.mktemp("profiles")
    raw = base / "raw_asx"
    synth(raw, securities=2, days=2, orders_per_unit=400, seed=5, start_date=date(2024, 9, 2))
    _add_reports_and_auctions(raw)
    _convert(raw, base / "raw_lse", lse)
    out = {}
    for name, src in (("asx", raw), ("lse_test", base / "raw_lse")):
        settings = resolve(workspace=base / f"ws_{name}", memory_limit="1GB", threads=2, env={},
                           profile=name)
        summary = api.ingest(settings, [src])
        assert not summary.failed and summary.rows_rejected == 0, summary
        res = api.run(settings, quiet=True)
        assert res.done == 6 and not res.failed     # 2 securities x (2 days + the evening of reloads before)
        out[name] = (settings, api.report(settings))
    return out


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def _rows(settings, table: str) -> tuple[list[str], list[tuple]]:
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        cur = con.execute(f"SELECT * FROM {table} ORDER BY {KEYS.get(table, 'ALL')}")
        return [d[0] for d in cur.description], cur.fetchall()


def _expected(col: str, v, table: str):
    """The lse_test value of a result column given the asx one."""
    if v is None:
        return None
    if col in TS_COLS:
        return v + SHIFT_NS
    if col == "exchangeordertype":
        return bits_map(v)
    if col in ("final_changereason", "g3_changereason"):
        return CHANGEREASON[v]
    if col in PRICE_COLS and not (table.startswith("agg_") and col != "vwap"):
        return v * PRICE_FACTOR
    return v


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


# ------------------------------------------------------------------ the second profile's figures

@pytest.mark.parametrize("table", ["order_states", "sweeps", "scenario_costs", "dark_matches", "dark_sweeps",
                                   "agg_global", "agg_by_security", "agg_by_date", "agg_by_hour",
                                   "agg_by_size", "agg_by_participant", "ts_hourly"])
def test_second_profile_gives_the_asx_figures(two_runs, table):
    """Every row and column: counts, groups, quantities, bps and seconds equal, *_ts shifted by the
    zone difference, prices x10, codes mapped (to 1e-9 for floats)."""
    (cols_a, rows_a), (cols_l, rows_l) = (_rows(two_runs[p][0], table) for p in ("asx", "lse_test"))
    assert cols_a == cols_l
    assert len(rows_a) == len(rows_l) and rows_a, f"{table}: {len(rows_a)} asx rows, {len(rows_l)} lse_test rows"
    diffs = [(r_a[: 3], c, _expected(c, va, table), vl)
             for r_a, r_l in zip(rows_a, rows_l) for c, va, vl in zip(cols_a, r_a, r_l)
             if not _same(_expected(c, va, table), vl)]
    assert not diffs, f"{table}: {len(diffs)} differences, first {diffs[:3]}"


def test_the_figures_exercise_the_code_sets(two_runs):
    """The comparison above is only meaningful if the data hit every venue class, group and label."""
    cols, rows = _rows(two_runs["asx"][0], "sweeps")
    s = [dict(zip(cols, r)) for r in rows]
    assert {r["group_id"] for r in s} == {1, 2, 3}
    assert sum(r["qualifying"] for r in s) > 0 and sum(not r["qualifying"] for r in s if r["group_id"] == 1) > 0
    for vol in ("cp_volume", "lit_volume", "auction_volume", "trade_report_volume"):
        assert sum(r[vol] for r in s) > 0, vol
    assert {r["g3_reason"] for r in s if r["group_id"] == 3} >= {"trader_cancel", "end_of_day_purge"}
    cols, rows = _rows(two_runs["asx"][0], "order_states")
    hours = {r[cols.index("arrival_hour")] for r in rows}
    # local hours (UTC ones would be 0-5): the trading day, 18:50 purges, 21:22 reloads
    assert hours <= set(range(10, 16)) | {18, 21} and {10, 21} <= hours


def test_units_and_rows_per_unit_match(two_runs):
    (_, a), (_, b) = (_rows(two_runs[p][0], "(SELECT security_code, date, status, rows FROM units)")
                      for p in ("asx", "lse_test"))
    assert a == b and {r[1] for r in a} == {date(2024, 9, 1), date(2024, 9, 2), date(2024, 9, 3)}


def test_report_shows_the_profiles_currency(two_runs):
    """The Filled value card carries the same amount, in £ instead of A$."""
    pages = {p: two_runs[p][1].html.read_text(encoding="utf-8") for p in two_runs}
    cards = {p: re.findall(r'<div class="v">([^<]+)</div><div class="l">Filled value</div>', pages[p])
             for p in pages}
    assert cards["asx"] and cards["asx"][0].startswith("A$"), cards
    assert cards["lse_test"] == ["£" + cards["asx"][0][len("A$"):]], cards
    assert "A$" not in pages["lse_test"] and "A$" not in two_runs["lse_test"][1].markdown.read_text()
    assert "Prices in £ (hundredths of a penny ÷ 10000)" in pages["lse_test"]
    assert "Prices in A$ (tenths of a cent ÷ 1000)" in pages["asx"]


def test_raw_headers_map_to_canonical_view_columns(two_runs, lse):
    """The lse_test files say OrderID/Px/...; the store and its views keep the canonical names."""
    settings = two_runs["lse_test"][0]
    header = next((settings.workspace.parent / "raw_lse" / "orders").glob("*.csv")).read_text().split("\n", 1)[0]
    assert header.startswith("OrderID,") and ",Px," in header and "order_id" not in header
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        cols = [r[0] for r in con.execute("DESCRIBE orders").fetchall()]
        trade_cols = [r[0] for r in con.execute("DESCRIBE trades").fetchall()]
    assert "order_id" in cols and "price" in cols and "OrderID" not in cols and "Px" not in cols
    assert "tradeprice" in trade_cols and "dealsource" in trade_cols


# ------------------------------------------------------------------ signatures and rendering

def test_unit_signatures_change_with_the_profile(lse):
    pipe = pipelines.get("analysis")
    a = asx.PROFILE
    digests = {pipe.digest(a), pipe.digest(lse),
               pipe.digest(dataclasses.replace(a, venue_classes={**a.venue_classes, "lit": (1,)})),
               pipe.digest(dataclasses.replace(a, changereasons={**a.changereasons, "new": 7})),
               pipe.digest(dataclasses.replace(a, name="asx2"))}
    assert len(digests) == 5
    assert pipe.digest(a) == pipelines.get("analysis").digest(get_profile("asx"))     # stable


def test_a_changed_profile_makes_done_units_stale(two_runs, lse):
    """A workspace run with asx, listed under another profile: every done unit is stale."""
    settings = two_runs["asx"][0]
    assert {r.status for r in api.units(settings).rows} == {"done"}
    other = dataclasses.replace(asx.PROFILE, name="asx_other_codes",
                                changereasons={**asx.PROFILE.changereasons, "new": 7})
    register_profile(other)
    try:
        changed = resolve(workspace=settings.workspace, env={}, profile=other.name)
        assert {r.status for r in api.units(changed).rows} == {"stale"}
    finally:
        unregister_profile(other.name)


def test_rendered_sql_carries_the_profiles_codes(lse):
    sql = render_batch_sql([(100001, date(2024, 9, 2))], {}, [], lse)
    assert "'Europe/London'" in sql and "Australia/Sydney" not in sql
    assert "dealsource IN (71, 72, 73)" in sql and "changereason = 61" in sql and "& 57" in sql
    assert "WHEN 99 THEN 'fill_and_kill'" in sql
    assert "$qualifying_dealsources = [11]" in sql       # the parameter's default is the profile's


def test_profile_values_are_validated():
    a = asx.PROFILE
    for bad in ({"time_zone": "Mars/Olympus"}, {"time_zone": "Europe/London'; DROP TABLE units; --"},
                {"price_scale": 0}, {"price_scale": "1000"},
                {"venue_classes": {**a.venue_classes, "lit": ("1",)}},
                {"order_type_bits": {**a.order_type_bits, "sweep": 3}},
                {"changereasons": {k: v for k, v in a.changereasons.items() if k != "new"}},
                {"changereason_labels": {6: "new'); DROP TABLE units; --"}}):
        with pytest.raises(ValueError):
            dataclasses.replace(a, **bad)
    for bad in ("5", [5, "6"], True, [], None):
        with pytest.raises(ValueError):
            int_literals(bad)
    assert int_literals(5) == "5" and int_literals((46, 47)) == "46, 47"


def test_column_raw_name_is_the_header_and_name_stays_canonical():
    c = Column("order_id", "UBIGINT", True, raw="OrderID")
    assert c.header == "OrderID" and Column("price", "BIGINT").header == "price"
    t = dataclasses.replace(asx.ORDERS, columns=(c,) + asx.ORDERS.columns[1:])
    assert "orderid" in t.by_lower and "order_id" not in t.by_lower and t.by_lower["orderid"].name == "order_id"


# ------------------------------------------------------------------ no ASX knowledge outside profiles/

# (pattern, an old line it must catch): ASX literals in the contexts where they meant ASX codes
FORBIDDEN = [
    (r"Australia/Sydney", "timezone('Australia/Sydney', timezone('UTC', make_timestamp(ts // 1000)))"),
    (r"(?<![A-Za-z0-9_])A\$", 'text = f"A${abs(amount):,.2f}"'),
    (r"\bAUD\b", "SYNTH SECURITY {s},1,,0.0,AUD,,,"),
    (r"&\s*\(?\s*(?:2|64|256|2048|4096)\b(?!\s*\*)", "WHERE (f.type & (64 | 256 | 2048 | 4096)) != 0"),
    (r"&\s*\(?\s*(?:2|64|256|2048|4096)\b(?!\s*\*)", "(m.exchangeordertype & 2048) != 0 AS is_sweep"),
    (r"&\s*\(?\s*(?:2|64|256|2048|4096)\b(?!\s*\*)", 'np.where((etype & 2) > 0, ev["qty"], 0)'),
    (r"\b(?:64|256|2048|4096)\s*\|\s*(?:64|256|2048|4096)\b", "ETYPES = [2048 | 2, 64 | 256]"),
    (r"\[\s*(?:2048|4096)\s*,\s*(?:2048|4096|4098|64)\b", "ETYPES = np.array([2048, 4096, 4098, 64, 256, 0])"),
    (r"dealsource\w*\s*(?:=|==|!=|<>|IN\s*\(|IS\s+(?:NOT\s+)?DISTINCT\s+FROM)\s*\d",
     "FILTER (WHERE f.dealsource IN (1, 44)), 0) AS v_lit"),
    (r"dealsource\w*\s*(?:=|==|!=|<>|IN\s*\(|IS\s+(?:NOT\s+)?DISTINCT\s+FROM)\s*\d",
     "QUALIFY tr.dealsource IS DISTINCT FROM 5"),
    (r"dealsource\w*\s*(?:=|==|!=|<>|IN\s*\(|IS\s+(?:NOT\s+)?DISTINCT\s+FROM)\s*\d",
     "sum(f.quantity) FILTER (WHERE f.dealsource = 5)"),
    (r"[\[(]\s*(?:1\s*,\s*44|46\s*,\s*47|47\s*,\s*46|20\s*,\s*45)\b", "rng.choice([47, 46, 48], F)"),
    (r"[\[(]\s*(?:1\s*,\s*44|46\s*,\s*47|47\s*,\s*46|20\s*,\s*45)\b", "np.isin(ds, [1, 44])"),
    (r"==\s*5\)\.astype", '"exchangeinfo": (ds2 == 5).astype(np.int64)'),
    (r"changereason\w*\s*(?:=|==|!=|<>|IN\s*\()\s*\d", "coalesce(bool_or(changereason = 6), false)"),
    (r"WHEN\s+\d+\s+THEN\s+'(?:trader_cancel|traded|amended|new|fill_and_kill|end_of_day_purge|reloaded)'",
     "WHEN 1 THEN 'trader_cancel' WHEN 3 THEN 'traded'"),
    (r"'(?:fill_and_kill|end_of_day_purge|reloaded|trader_cancel)'", "ELSE 'fill_and_kill' END"),
    (r"np\.where\(carry,\s*\d+,\s*\d+\)", "first_cr = np.where(carry, 30, 6)"),
    (r"(?<![/\w])/\s*1000(?:\.0)?\b(?!\d)", "(coalesce(sum(filled_value), 0) / 1000.0)::DOUBLE"),
    (r"(?<![/\w])/\s*1000(?:\.0)?\b(?!\d)", "amount = value / 1000 if kind != 'aud' else value"),
    (r"(?<![/\w])/\s*1000(?:\.0)?\b(?!\d)", '"sum(savings)/1000 AS savings_aud "'),
]


def _scanned_files() -> list[Path]:
    roots = [REPO / "sql", REPO / "templates", REPO / "duckpipe"]
    files = [p for r in roots for p in r.rglob("*") if p.suffix in (".sql", ".j2", ".py") and p.is_file()]
    return [p for p in files if (REPO / "duckpipe" / "profiles") not in p.parents]


def test_forbidden_patterns_catch_the_old_asx_literals():
    """The checker below is only as good as its patterns: each catches the line it was written for."""
    for pattern, old in FORBIDDEN:
        assert re.search(pattern, old), (pattern, old)
    assert not re.search(FORBIDDEN[-1][0], "make_timestamp(ts // 1000)")   # ns -> us is not a price scale


def test_no_asx_knowledge_outside_profiles():
    files = _scanned_files()
    assert len(files) > 40 and any(p.name == "050_sweeps.sql" for p in files)
    hits = [f"{p.relative_to(REPO)}:{i}: {line.strip()}"
            for p in files for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
            for pattern, _ in FORBIDDEN if re.search(pattern, line)]
    assert not hits, "ASX knowledge outside duckpipe/profiles/ (read it from the profile):\n" + "\n".join(hits)
