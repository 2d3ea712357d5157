"""The report a researcher sends to colleagues (SPEC §6).

Order matters: the report scope (``report_units``: done units, optionally filtered) is created
first and every result query joins to it, so rows left behind by a failed or pending unit are
never counted. Each section is built on its own and a missing or malformed table turns into a
warning and a note in the report, never a crash: the report is most needed when a run went wrong.

Numbers are formatted once, here, by column name (SPEC §3 units: prices in the profile's price
units, shown in its currency; values in price units x shares, times in seconds), so the HTML, the Markdown and the headers
all agree. Every table names the result table it comes from and a one-line SQL to reproduce it.
"""
from __future__ import annotations

import json
import logging
import re
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import jinja2

from ..analysis import markouts
from ..db import execute
from ..engine import runs
from ..errors import DuckpipeError, EmptyWorkspace
from ..settings import Settings
from ..sqlrender import render, split_statements
from . import charts
from . import markouts as report_markouts
from .formatting import DASH, MAX_ROWS, Table, col_kind, col_label, fmt, fmt_bytes, make_table, money_of
from .queries import query, run_template, select_all, table_columns

log = logging.getLogger(__name__)

AGG_TABLES = ["agg_global", "agg_by_security", "agg_by_date", "agg_by_participant", "agg_by_hour",
              "agg_by_size", "ts_daily", "ts_hourly"]
CSV_TABLES = AGG_TABLES + markouts.AGG_TABLES + ["stats_tests", "units"]
EXTENDED = [("agg_by_hour", "By hour of arrival ({tz})"), ("agg_by_size", "By size bucket"),
            ("agg_by_participant", "By participant"), ("agg_by_security", "By security"),
            ("agg_by_date", "By date")]


@dataclass
class ReportResult:
    """Where the outputs went, and what the reader should know was missing."""

    out_dir: Path
    html: Path
    markdown: Path
    performance: Path
    csv_files: list[Path]
    warnings: list[str]


# ----------------------------------------------------------------------------- sections

class Sections:
    """Collects the report's content; each section failing alone becomes a warning."""

    def __init__(self, con: duckdb.DuckDBPyConnection, settings: Settings):
        self.con, self.settings = con, settings
        self.warnings: list[str] = []
        self.ctx: dict[str, Any] = {"charts": {}, "tables": {}, "extended": [], "kpis": []}

    def safe(self, name: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except (DuckpipeError, duckdb.Error, KeyError, ValueError, TypeError) as exc:
            msg = f"{name}: not available ({str(exc).splitlines()[0][:200]})"
            log.warning("report section %s", msg)
            self.warnings.append(msg)

    def has(self, *tables: str) -> bool:
        missing = [t for t in tables if not table_columns(self.con, t)]
        if missing:
            self.warnings.append(f"table {', '.join(missing)} missing: related sections are empty")
        return not missing

    # -- run and units
    def run_summary(self) -> None:
        cols, rows = select_all(self.con, "runs", "started_at")
        run = dict(zip(cols, rows[0])) if rows else {}
        for key in ("settings", "machine"):
            if isinstance(run.get(key), str):
                try:
                    run[key] = json.loads(run[key])
                except ValueError:
                    pass
        self.ctx["run"] = run
        self.ctx["runs_total"] = len(rows)
        self.ctx["settings_rows"] = settings_rows(run.get("settings"))

    def units(self, filtered: bool) -> None:
        join = ("JOIN report_filter f ON f.security_code = u.security_code AND f.date = u.date"
                if filtered else "")
        cols, rows = query(self.con, "SELECT u.security_code, u.date, u.status, u.attempts, u.duration_s, "
                           "u.rows, u.finished_at, u.run_id, left(u.error, 200) AS error FROM units u " + join +
                           " ORDER BY u.date, u.security_code")
        self.ctx["units_table"] = make_table(
            "Units", "units", "SELECT * FROM units ORDER BY date, security_code", cols, rows,
            highlight=lambda r: r["status"] != "done")
        rows = apply_statuses(rows, effective_statuses(self.con, self.settings), filtered, self.con)
        counts: dict[str, int] = {}
        for r in rows:
            counts[r[2]] = counts.get(r[2], 0) + 1
        self.ctx["unit_counts"] = counts
        self.ctx["problem_units"] = [dict(zip(cols, r)) for r in rows if r[2] != "done"]

    def headline(self) -> None:
        for table in ("order_states", "sweeps"):
            if table_columns(self.con, table):
                _, rows = run_template(self.con, "scoped_count", table=table)
                self.ctx[f"n_{table}"] = rows[0][0]

    def kpis(self) -> None:
        """The headline cards: what a colleague reads first."""
        c, out = self.ctx, self.ctx["kpis"]
        counts = c.get("unit_counts", {})
        total = sum(counts.values())
        out.append(("Units done", f"{counts.get('done', 0):,} / {total:,}",
                    f"{total - counts.get('done', 0):,} not done" if total - counts.get("done", 0) else "all done"))
        if "n_order_states" in c:
            out.append(("Centre Point orders", fmt(c["n_order_states"]), "order_states"))
        if "n_sweeps" in c:
            out.append(("Sweep orders", fmt(c["n_sweeps"]), "sweeps"))
        groups = {r["group"]: r for r in c.get("group_rows", [])}
        if groups:
            out.append(("G1 / G2 / G3 sweeps", " / ".join(fmt(groups.get(g, {}).get("sweeps"))
                                                         for g in ("G1", "G2", "G3")), "full / partial / none"))
            every = groups.get("All", {})
            out.append(("Filled value", fmt(every.get("filled_value"), "money"),
                        f"{fmt(every.get('filled_quantity'))} shares"))
            out.append(("Mean arrival cost", f"{fmt(every.get('mean_arrival_cost_bps'), 'bps')} bps",
                        f"median {fmt(every.get('median_arrival_cost_bps'), 'bps')} bps"))
        sets = c.get("dark_set_rows", [])
        if sets:
            a = sum(r["sweeps"] for r in sets if r["set_label"] == "A")
            n = sum(r["sweeps"] for r in sets)
            out.append(("Simulated: matched in the dark", f"{100 * a / n:.1f}%" if n else DASH,
                        f"set A {a:,} of {n:,} qualifying"))
        for r in c.get("scenario_rows", [])[:3]:
            out.append((f"Savings, {r['scenario']}", f"{fmt(r['mean_savings_bps'], 'bps')} bps",
                        f"total {fmt(r['total_savings'], 'money')}"))

    # -- results
    def groups(self) -> None:
        if not self.has("sweeps"):
            return
        cols, rows = run_template(self.con, "groups")
        self.ctx["tables"]["groups"] = make_table(
            "Sweep groups", "sweeps",
            "SELECT group_id, count(*), sum(filled_quantity), sum(vwap*filled_quantity)/sum(filled_quantity) "
            "AS vwap, avg(fill_ratio), avg(arrival_cost_bps) FROM sweeps GROUP BY ROLLUP (group_id)",
            cols, rows, note="G1 fully filled, G2 partially filled, G3 not executed (final state).")
        self.ctx["group_rows"] = [dict(zip(cols, r)) for r in rows]

    def scenarios(self) -> None:
        if not self.has("scenario_costs"):
            return
        cols, rows = run_template(self.con, "scenarios")
        order = {s["name"]: i for i, s in enumerate(self.settings.scenarios)}
        rows = sorted(rows, key=lambda r: (order.get(r[0], len(order)), r[0]))
        defs = {s["name"]: s for s in self.settings.scenarios}
        self.ctx["tables"]["scenarios"] = make_table(
            "Scenario costs", "scenario_costs",
            "SELECT scenario, count(*), avg(savings_bps), median(savings_bps), "
            f"sum(savings)/{self.settings.profile_def.price_scale} AS savings_aud "
            "FROM scenario_costs GROUP BY scenario", cols, rows,
            note="Positive savings: resting in the dark would have been better for the trader. "
                 + "; ".join(f"{n}: dark share {d['dark_share']:g}, rest {d['rest']}"
                             + (f" (+{d['impact_bps']:g} bps impact)" if d["rest"] == "impact" else "")
                             for n, d in defs.items()))
        self.ctx["scenario_rows"] = [dict(zip(cols, r)) for r in rows]

    def dark(self) -> None:
        if not self.has("dark_sweeps", "sweeps"):
            return
        cols, rows = run_template(self.con, "dark_sets")
        self.ctx["tables"]["dark_sets"] = make_table(
            "Simulation outcome: set A (matched) and set B (not matched, by reason)", "dark_sweeps",
            "SELECT set_label, reason, count(*), sum(offered_quantity), sum(matched_quantity) "
            "FROM dark_sweeps GROUP BY ALL", [c for c in cols if c != "n_sim_fill_ratio"],
            [r[:-1] for r in rows])
        self.ctx["dark_set_rows"] = [dict(zip(cols, r)) for r in rows]
        dcols = table_columns(self.con, "dark_sweeps")
        ttff = next((c for c in dcols if "first_fill" in c), None)
        vwte = next((c for c in dcols if "vwte" in c), None)
        _, comp = run_template(self.con, "dark_compare", ttff_col=ttff, vwte_col=vwte)
        out = []
        for metric, kind, n_real, real, n_sim, sim in comp:
            diff = None if real is None or sim is None else sim - real
            out.append([metric, fmt(n_real), fmt(real, kind), fmt(n_sim), fmt(sim, kind), fmt(diff, kind)])
        self.ctx["tables"]["dark_compare"] = Table(
            "Real versus simulated, set-A sweeps", "sweeps ⋈ dark_sweeps",
            "SELECT avg(s.fill_ratio), avg(d.sim_fill_ratio) FROM dark_sweeps d JOIN sweeps s "
            "USING (security_code, date, order_id) WHERE d.set_label = 'A'",
            ["Metric", "n real", "Real", "n simulated", "Simulated", "Simulated − real"], out,
            [False, True, True, True, True, True],
            note="Simulated arrival cost prices the simulated VWAP against the same arrival mid.")
        if table_columns(self.con, "dark_matches"):
            _, m = run_template(self.con, "dark_matches")
            self.ctx["dark_matches"] = dict(zip(["matches", "no_price", "quantity"], m[0]))

    def top_sweeps(self) -> None:
        if not table_columns(self.con, "sweeps"):
            return
        cols, rows = run_template(self.con, "top_sweeps", {"limit": 10})
        self.ctx["tables"]["top_sweeps"] = make_table(
            "Costliest sweeps (trace them to orders and trades)", "sweeps",
            "SELECT * FROM sweeps ORDER BY arrival_cost_bps DESC NULLS LAST LIMIT 10", cols, rows,
            note="Query orders/trades with the security, date and order id.")

    def stats(self) -> None:
        cols, rows = select_all(self.con, "stats_tests")
        if not cols:
            self.warnings.append("table stats_tests missing: no statistics")
            return
        wanted = [c for c in ("scope", "segment", "metric", "test", "n", "statistic", "p_value",
                              "p_adjusted", "effect_size", "ci_low", "ci_high", "note") if c in cols]
        idx = [cols.index(c) for c in wanted]
        rows = sorted(([r[i] for i in idx] for r in rows),
                      key=lambda r: (r[0] != "global", str(r[0]), str(r[1]), str(r[2]), str(r[3])))
        sig = lambda r: r.get("p_adjusted") is not None and r["p_adjusted"] < 0.05  # noqa: E731
        seg = wanted.index("segment") if "segment" in wanted else None
        main = [r for r in rows if r[0] == "global" and (seg is None or r[seg] in ("all", None))]
        parts = [("stats_global", "Global tests, all sweeps", main, "scope = 'global' AND segment = 'all'"),
                 ("stats_segments", "Global tests by segment (group, size bucket)",
                  [r for r in rows if r[0] == "global" and r not in main], "scope = 'global' AND segment <> 'all'"),
                 ("stats_other", "Per-security tests", [r for r in rows if r[0] != "global"], "scope <> 'global'")]
        for key, title, part, where in parts:
            if part or key == "stats_global":
                self.ctx["tables"][key] = make_table(
                    title, "stats_tests", f"SELECT * FROM stats_tests WHERE {where} ORDER BY metric, test",
                    wanted, part, highlight=sig, limit=300,
                    note="p adjusted by Benjamini-Hochberg over all tests of the run; shaded rows: "
                         "p_adjusted < 0.05." if key == "stats_global" else "")
        self.ctx["significant"] = [dict(zip(wanted, r)) for r in rows if sig(dict(zip(wanted, r)))]
        self.ctx["tests_total"] = len(rows)

    def extended(self) -> None:
        cols, rows = select_all(self.con, "agg_global")
        if rows:    # one wide row: show it as measure/value pairs, two pairs a line
            pairs = [[col_label(c), fmt(v, col_kind(c))] for c, v in zip(cols, rows[0])]
            half = (len(pairs) + 1) // 2
            lines = [a + (pairs[half + i] if half + i < len(pairs) else ["", ""]) for i, a in enumerate(pairs[:half])]
            self.ctx["tables"]["agg_global"] = Table(
                "Global summary", "agg_global", "SELECT * FROM agg_global", ["Measure", "Value"] * 2,
                lines, [False, True, False, True])
        for table, title in EXTENDED:
            cols = table_columns(self.con, table)
            if not cols:
                continue
            many = table in ("agg_by_participant", "agg_by_security")
            cols, rows = select_all(self.con, table, "sweeps" if many else "")
            if table == "agg_by_size" and "size_bucket" in cols:
                rows = sorted(rows, key=lambda r: bucket_key(r[cols.index("size_bucket")]))
            keep = [i for i, c in enumerate(cols) if not c.endswith("_idx")]   # sort helpers
            cols, rows = [cols[i] for i in keep], [[r[i] for i in keep] for r in rows]
            self.ctx["extended"].append(make_table(
                title.format(tz=self.settings.profile_def.time_zone_label), table, f"SELECT * FROM {table}" + (" ORDER BY sweeps DESC" if many else ""),
                cols, rows, limit=MAX_ROWS if many else 200,
                note=f"Full table: csv/{table}.csv." if many else ""))

    def performance(self) -> None:
        run_id = self.ctx.get("run", {}).get("run_id")
        if run_id is not None and table_columns(self.con, "run_stages"):
            cols, rows = query(self.con, "SELECT stage, started_at, duration_s, rows, rows / nullif(duration_s, 0) "
                               "AS rows_per_s, peak_rss_bytes, spilled_bytes FROM run_stages "
                               "WHERE run_id = $run_id ORDER BY started_at NULLS LAST, stage", {"run_id": run_id})
            self.ctx["tables"]["stages"] = make_table(
                "Stages of the last run", "run_stages",
                f"SELECT * FROM run_stages WHERE run_id = '{run_id}' ORDER BY started_at", cols, rows)
            self.ctx["spilled_bytes"] = sum(r[6] or 0 for r in rows) if rows else None
            self.ctx["stage_peak"] = max((r[5] for r in rows if r[5] is not None), default=None)
        cols, rows = run_template(self.con, "unit_timings",
                                  has_batch="batch_id" in table_columns(self.con, "units"))
        self.ctx["unit_timing"] = dict(zip(cols, rows[0])) if rows else {}
        cols, rows = query(self.con, "SELECT security_code, date, duration_s, rows, rows / nullif(duration_s, 0) "
                           "AS rows_per_s, run_id FROM units WHERE status = 'done' "
                           "ORDER BY duration_s DESC NULLS LAST LIMIT 10")
        self.ctx["tables"]["slowest"] = make_table(
            "Slowest units", "units", "SELECT * FROM units ORDER BY duration_s DESC LIMIT 10", cols, rows)
        cols, rows = select_all(self.con, "runs", "started_at")
        keep = [c for c in ("run_id", "started_at", "finished_at", "status", "strategy", "units_done",
                            "units_failed", "peak_rss_bytes") if c in cols]
        self.ctx["tables"]["runs"] = make_table(
            "Runs", "runs", "SELECT * FROM runs ORDER BY started_at DESC", keep,
            [[r[cols.index(c)] for c in keep] for r in rows], limit=20)


def effective_statuses(con: duckdb.DuckDBPyConnection, settings: Settings) -> dict[tuple[int, date], str]:
    """Statuses as `duckpipe units` shows them (stale, and pending for units not yet synced);
    {} when the store cannot tell."""
    try:
        from ..analysis import pipelines
        from ..engine import units as unitsmod
        pipe = pipelines.get("analysis")
        rows, _ = unitsmod.current_rows(con, pipe.tables_read, pipe.digest(settings.profile_def), settings.params,
                                        settings.scenarios, write=False)
        return {r.unit.key: r.status for r in rows}
    except (DuckpipeError, duckdb.Error, ImportError, AttributeError, KeyError, TypeError) as exc:
        log.debug("effective unit statuses unavailable, using the units table: %s", exc)
        return {}


def apply_statuses(rows: list[tuple], statuses: dict[tuple[int, date], str], filtered: bool,
                   con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """Overlay effective statuses on units rows (security_code, date, status, ...) and add the
    store's units that the units table does not list yet, as pending."""
    if not statuses:
        return rows
    out = [(r[0], r[1], statuses.get((r[0], r[1]), r[2])) + tuple(r[3:]) for r in rows]
    known = {(r[0], r[1]) for r in rows}
    wanted = ({tuple(k) for k in con.execute("SELECT security_code, date FROM report_filter").fetchall()}
              if filtered else None)
    extra = [k for k, st in statuses.items() if k not in known and (wanted is None or k in wanted)]
    out += [(k[0], k[1], statuses[k]) + (None,) * (len(rows[0]) - 3 if rows else 6) for k in extra]
    return sorted(out, key=lambda r: (r[1], r[0]))


def bucket_key(label: Any) -> tuple[float, str]:
    """Order size buckets by their lower edge: '<100' < '100-1000' < '1000-10000' < '>=10000'."""
    text = str(label or "")
    nums = re.findall(r"\d[\d,_]*", text)
    edge = float(nums[0].replace(",", "").replace("_", "")) if nums else float("inf")
    return (edge - 0.5 if text.lstrip().startswith("<") else edge, text)


def settings_rows(settings: Any) -> list[tuple[str, str, str]]:
    """runs.settings {name: {value, source}} as (name, value, source) rows for people."""
    if not isinstance(settings, dict):
        return []
    out = []
    for name, item in settings.items():
        value, source = (item.get("value"), item.get("source", "")) if isinstance(item, dict) else (item, "")
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        out.append((name, text if value is not None else DASH, source))
    return out


# ----------------------------------------------------------------------------- charts

def build_charts(sec: Sections) -> None:
    """Charts where a reader would rather look than read; each one optional."""
    con, ctx, out = sec.con, sec.ctx, sec.ctx["charts"]

    def hist() -> None:
        if table_columns(con, "sweeps") and table_columns(con, "dark_sweeps"):
            _, rows = run_template(con, "cost_hist", {"bins": 40})
            if rows:
                bins: dict[str, list[int]] = {"real": [0] * 40, "simulated": [0] * 40}
                for series, b, n, _, _ in rows:
                    bins[series][b] += n
                out["cost_hist"] = charts.cost_histogram(bins, rows[0][3], rows[0][4])

    def fill() -> None:
        groups = [(r["group"], r["mean_fill_ratio"], r["sweeps"]) for r in ctx.get("group_rows", [])
                  if r["group"] != "All"]
        sets = ctx.get("dark_set_rows", [])
        n = sum(r["n_sim_fill_ratio"] or 0 for r in sets)
        sim = (sum((r["mean_sim_fill_ratio"] or 0) * (r["n_sim_fill_ratio"] or 0) for r in sets) / n, n) if n else None
        out["fill_ratio"] = charts.fill_ratio_by_group(groups, sim)

    def savings() -> None:
        out["savings"] = charts.savings_by_scenario(
            [(r["scenario"], r["mean_savings_bps"], r["sd_savings_bps"], r["sweeps_costed"])
             for r in ctx.get("scenario_rows", [])])

    def daily() -> None:
        cols, rows = select_all(con, "ts_daily")
        if rows and "date" in cols:
            rows = sorted(rows, key=lambda r: r[cols.index("date")])
            bar = "sweeps" if "sweeps" in cols else next((c for c in cols if c != "date"), None)
            line = "mean_arrival_cost_bps" if "mean_arrival_cost_bps" in cols else None
            out["daily"] = charts.daily_series(
                [r[cols.index("date")] for r in rows], [r[cols.index(bar)] for r in rows], col_label(bar),
                [r[cols.index(line)] for r in rows] if line else None, col_label(line) if line else "")

    def hourly() -> None:
        cols, rows = select_all(con, "ts_hourly")
        hour = next((c for c in cols if "hour" in c), None)
        value = "sweeps" if "sweeps" in cols else None
        if rows and hour and value and "date" in cols:
            vals = {(r[cols.index("date")], int(r[cols.index(hour)])): r[cols.index(value)] or 0 for r in rows}
            dates = sorted({d for d, _ in vals})
            hours = list(range(min(h for _, h in vals), max(h for _, h in vals) + 1))
            if len(dates) > 1:
                out["hourly"] = charts.hourly_heatmap(dates, hours, vals, col_label(value),
                                                      sec.settings.profile_def.time_zone_label)
            else:
                out["hourly"] = charts.hourly_profile(hours, [vals.get((dates[0], h)) for h in hours],
                                                      col_label(value))

    for name, fn in (("cost histogram", hist), ("fill ratio chart", fill), ("savings chart", savings),
                     ("daily chart", daily), ("hourly chart", hourly)):
        sec.safe(name, fn)


# ----------------------------------------------------------------------------- outputs

def export_csv(con: duckdb.DuckDBPyConnection, csv_dir: Path) -> list[Path]:
    """COPY every aggregate table (and stats_tests, units) to csv/<table>.csv, whole."""
    csv_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for table in CSV_TABLES:
        if not table_columns(con, table):
            continue
        path = csv_dir / f"{table}.csv"
        for stmt in split_statements(render("report/export_csv.sql", table=table, path=str(path))):
            execute(con, stmt, template="report/export_csv.sql")
        written.append(path)
    return written


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(resources.files("duckpipe.templates"))),
                             autoescape=jinja2.select_autoescape(["html.j2"]),
                             undefined=jinja2.ChainableUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["fmt"] = fmt
    env.filters["bytes"] = fmt_bytes
    env.filters["md"] = lambda s: str(s).replace("|", "\\|").replace("\n", " ")
    return env


def _market(settings: Settings) -> dict[str, Any]:
    """What the templates say about units: the profile's currency, price unit and local time."""
    p = settings.profile_def
    return {"currency": p.currency_symbol, "currency_code": p.currency_code, "price_unit": p.price_unit,
            "price_scale": p.price_scale, "tz": p.time_zone_label}


def _scope(con: duckdb.DuckDBPyConnection, units_filter: list[tuple[int, date]] | None) -> None:
    """Create report_filter (when filtering) and report_units: the done units reported on."""
    if units_filter is not None:
        con.execute("CREATE OR REPLACE TEMP TABLE report_filter (security_code INTEGER, date DATE)")
        if units_filter:
            con.executemany("INSERT INTO report_filter VALUES (?, ?)", [list(u) for u in units_filter])
    run_template(con, "scope", filtered=units_filter is not None)


def _record_stage(con: duckdb.DuckDBPyConnection, run_id: Any, started: datetime, seconds: float) -> None:
    """Record the report as a stage of the last run (SPEC §4 run_stages), replacing an older one."""
    if run_id is None or not table_columns(con, "run_stages"):
        return
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    try:
        runs.replace_stage(con, run_id, "report", started=started.timestamp(), duration_s=seconds,
                           peak_rss_bytes=peak)
    except duckdb.Error as exc:  # a read-only catalog still gets its report
        log.debug("could not record the report stage: %s", exc)


def build_report(con: duckdb.DuckDBPyConnection, settings: Settings, out_dir: Path | None = None,
                 units_filter: list[tuple[int, date]] | None = None) -> ReportResult:
    """Write report.html, report.md, performance.md and csv/*.csv for the done units.

    Raises EmptyWorkspace when no unit is done (nothing could be reported honestly). Money is
    shown in the settings' profile's currency and price scale.
    """
    with money_of(settings.profile_def):
        return _build_report(con, settings, out_dir, units_filter)


def _build_report(con: duckdb.DuckDBPyConnection, settings: Settings, out_dir: Path | None,
                  units_filter: list[tuple[int, date]] | None) -> ReportResult:
    started, t0 = datetime.now(), time.perf_counter()
    out_dir = Path(out_dir) if out_dir is not None else settings.workspace / "reports"
    done = con.execute("SELECT count(*) FROM units WHERE status = 'done'").fetchall()[0][0] \
        if table_columns(con, "units") else 0
    if not done:
        raise EmptyWorkspace(f"nothing to report: no units have been run in {settings.workspace}; "
                             "run 'duckpipe ingest' and 'duckpipe run' first")
    _scope(con, units_filter)
    if not con.execute("SELECT count(*) FROM report_units").fetchall()[0][0]:
        raise EmptyWorkspace("nothing to report: none of the selected units is done; "
                             "run 'duckpipe run' on them first")
    sec = Sections(con, settings)
    sec.safe("run summary", sec.run_summary)
    sec.safe("units", lambda: sec.units(units_filter is not None))
    for name in ("headline", "groups", "scenarios", "dark", "top_sweeps", "stats", "extended", "performance",
                 "kpis"):
        sec.safe(name, getattr(sec, name))
    build_charts(sec)
    sec.safe("markouts", lambda: report_markouts.build(sec))
    if units_filter is not None:
        sec.warnings.append("a units filter is set: the result tables cover the selected units, but the "
                            "aggregates, statistics and CSV exports cover all done units")
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_files: list[Path] = []
    sec.safe("CSV export", lambda: csv_files.extend(export_csv(con, out_dir / "csv")))
    ctx = dict(sec.ctx, warnings=sec.warnings, settings=settings, workspace=str(settings.workspace),
               generated_at=datetime.now().strftime("%Y-%m-%d %H:%M:%S"), csv_files=[p.name for p in csv_files],
               filtered=units_filter is not None, market=_market(settings))
    env = _environment()
    paths = {"html": out_dir / "report.html", "markdown": out_dir / "report.md",
             "performance": out_dir / "performance.md"}
    for key, template in (("html", "report.html.j2"), ("markdown", "report.md.j2"),
                          ("performance", "performance.md.j2")):
        paths[key].write_text(env.get_template(template).render(**ctx), encoding="utf-8")
    _record_stage(con, sec.ctx.get("run", {}).get("run_id"), started, time.perf_counter() - t0)
    log.info("report written to %s (%d CSV files, %d warnings)", out_dir, len(csv_files), len(sec.warnings))
    return ReportResult(out_dir, paths["html"], paths["markdown"], paths["performance"], csv_files,
                        list(sec.warnings))
