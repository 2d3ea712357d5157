"""The report a researcher sends to colleagues (SPEC §6).

Order matters: the report scope (``report_units``: done units, optionally filtered) is created
first and every result query joins to it, so rows left behind by a failed or pending unit are
never counted. Each section is built on its own and a missing or malformed table turns into a
warning and a note in the report, never a crash: the report is most needed when a run went wrong.

Numbers are formatted once, here, by column name (SPEC §3 units: prices in the profile's price
units, shown in its currency; values in price units x shares, times in seconds), so the HTML, the Markdown and the headers
all agree. Every table names the result table it comes from and shows the query that made it,
self-contained (scope and parameters inlined, see :mod:`duckpipe.report.provenance`).
"""
from __future__ import annotations

import json
import logging
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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
from .formatting import DASH, MAX_ROWS, Table, col_kind, col_label, fmt, fmt_bytes, money_of
from .provenance import Query, Scope, report_query, scope_groups, tabulate
from .queries import select_all, table_columns

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
    tables: list[Table] = field(default_factory=list)     # every table of the report, with its query


# ----------------------------------------------------------------------------- sections

class Sections:
    """Collects the report's content; each section failing alone becomes a warning."""

    def __init__(self, con: duckdb.DuckDBPyConnection, settings: Settings, scope: Scope = None):
        self.con, self.settings, self.scope = con, settings, scope
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

    def query(self, name: str, params: dict | None = None, **ctx: Any) -> Query:
        """sql/report/<name>.sql within the report's scope."""
        return report_query(name, self.scope, params, **ctx)

    def units(self, wanted: set[tuple[int, date]] | None) -> None:
        t = tabulate(self.con, self.query("units"), "Units", "units", highlight=lambda r: r["status"] != "done")
        self.ctx["units_table"] = t
        cols, rows = t.columns, t.data
        rows = apply_statuses(rows, effective_statuses(self.con, self.settings), wanted)
        counts: dict[str, int] = {}
        for r in rows:
            counts[r[2]] = counts.get(r[2], 0) + 1
        self.ctx["unit_counts"] = counts
        self.ctx["problem_units"] = [dict(zip(cols, r)) for r in rows if r[2] != "done"]

    def headline(self) -> None:
        for table in ("order_states", "sweeps"):
            if table_columns(self.con, table):
                _, rows = self.query("scoped_count", table=table).run(self.con)
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
        t = self.ctx["tables"]["groups"] = tabulate(
            self.con, self.query("groups"), "Sweep groups", "sweeps",
            note="G1 fully filled, G2 partially filled, G3 not executed (final state).")
        self.ctx["group_rows"] = [dict(zip(t.columns, r)) for r in t.data]

    def scenarios(self) -> None:
        if not self.has("scenario_costs"):
            return
        defs = {s["name"]: s for s in self.settings.scenarios}
        q = self.query("scenarios", {"scenario_order": [str(n) for n in defs]})
        t = self.ctx["tables"]["scenarios"] = tabulate(
            self.con, q, "Scenario costs", "scenario_costs",
            note="Positive savings: resting in the dark would have been better for the trader. "
                 + "; ".join(f"{n}: dark share {d['dark_share']:g}, rest {d['rest']}"
                             + (f" (+{d['impact_bps']:g} bps impact)" if d["rest"] == "impact" else "")
                             for n, d in defs.items()))
        self.ctx["scenario_rows"] = [dict(zip(t.columns, r)) for r in t.data]

    def dark(self) -> None:
        if not self.has("dark_sweeps", "sweeps"):
            return
        self.ctx["tables"]["dark_sets"] = tabulate(
            self.con, self.query("dark_sets", counts=False),
            "Simulation outcome: set A (matched) and set B (not matched, by reason)", "dark_sweeps")
        cols, rows = self.query("dark_sets", counts=True).run(self.con)      # for the fill ratio chart
        self.ctx["dark_set_rows"] = [dict(zip(cols, r)) for r in rows]
        dcols = table_columns(self.con, "dark_sweeps")
        ttff = next((c for c in dcols if "first_fill" in c), None)
        vwte = next((c for c in dcols if "vwte" in c), None)
        title, note = ("Real versus simulated, set-A sweeps",
                       "Simulated arrival cost prices the simulated VWAP against the same arrival mid.")

        def by_metric(cols: list[str], rows: list[tuple]) -> Table:
            """One row per metric, its values formatted by the row's kind (which is not shown)."""
            out = [[metric, fmt(n_real), fmt(real, kind), fmt(n_sim), fmt(sim, kind), fmt(diff, kind)]
                   for metric, kind, n_real, real, n_sim, sim, diff in rows]
            return Table(title, "sweeps ⋈ dark_sweeps", "",
                         ["Metric", "n real", "Real", "n simulated", "Simulated", "Simulated − real"], out,
                         [False, True, True, True, True, True], note=note, total=len(rows))
        self.ctx["tables"]["dark_compare"] = tabulate(
            self.con, self.query("dark_compare", ttff_col=ttff, vwte_col=vwte), title, "sweeps ⋈ dark_sweeps",
            shape=by_metric)
        if table_columns(self.con, "dark_matches"):
            _, m = self.query("dark_matches").run(self.con)
            self.ctx["dark_matches"] = dict(zip(["matches", "no_price", "quantity"], m[0]))

    def top_sweeps(self) -> None:
        if not table_columns(self.con, "sweeps"):
            return
        self.ctx["tables"]["top_sweeps"] = tabulate(
            self.con, self.query("top_sweeps", {"limit": 10}), "Costliest sweeps (trace them to orders and trades)",
            "sweeps", note="Query orders/trades with the security, date and order id.")

    def stats(self) -> None:
        cols = table_columns(self.con, "stats_tests")
        if not cols:
            self.warnings.append("table stats_tests missing: no statistics")
            return
        wanted = [c for c in ("scope", "segment", "metric", "test", "n", "statistic", "p_value",
                              "p_adjusted", "effect_size", "ci_low", "ci_high", "note") if c in cols]
        sig = lambda r: r.get("p_adjusted") is not None and r["p_adjusted"] < 0.05  # noqa: E731
        has_segment = "segment" in wanted
        parts = [("stats_global", "Global tests, all sweeps", "global"),
                 ("stats_segments", "Global tests by segment (group, size bucket)", "segments"),
                 ("stats_other", "Per-security tests", "other")]
        total = 0
        for key, title, part in parts:    # the three parts split stats_tests, each row in one
            t = tabulate(self.con, self.query("stats", cols=wanted, has_segment=has_segment, part=part),
                         title, "stats_tests", highlight=sig, limit=300,
                         note="p adjusted by Benjamini-Hochberg over all tests of the run; shaded rows: "
                              "p_adjusted < 0.05." if key == "stats_global" else "")
            total += len(t.data)
            if t.data or key == "stats_global":
                self.ctx["tables"][key] = t
        self.ctx["significant"] = []
        if "p_adjusted" in wanted:
            listed = [c for c in ("scope", "segment", "metric", "test", "n", "statistic", "p_adjusted",
                                  "effect_size") if c in wanted]
            t = self.ctx["tables"]["significant"] = tabulate(
                self.con, self.query("stats", cols=listed, has_segment=has_segment, part="significant"),
                "Significant tests (p adjusted < 0.05)", "stats_tests", limit=50)
            self.ctx["significant"] = [dict(zip(t.columns, r)) for r in t.data]
        self.ctx["tests_total"] = total

    def extended(self) -> None:
        cols = table_columns(self.con, "agg_global")
        if cols:    # one wide row: show it as measure/value pairs, two pairs a line
            def pairs(cols: list[str], rows: list[tuple]) -> Table:
                pairs = [[col_label(c), fmt(v, col_kind(c))] for c, v in zip(cols, rows[0])] if rows else []
                half = (len(pairs) + 1) // 2
                lines = [a + (pairs[half + i] if half + i < len(pairs) else ["", ""])
                         for i, a in enumerate(pairs[:half])]
                return Table("Global summary", "agg_global", "", ["Measure", "Value"] * 2, lines,
                             [False, True, False, True], total=len(rows))
            t = tabulate(self.con, self.query("table", table="agg_global", cols=cols, order=_order(cols)),
                         "Global summary", "agg_global", shape=pairs)
            if t.data:
                self.ctx["tables"]["agg_global"] = t
        for table, title in EXTENDED:
            cols = table_columns(self.con, table)
            if not cols:
                continue
            many = table in ("agg_by_participant", "agg_by_security")
            shown = [c for c in cols if not c.endswith("_idx")]      # sort helpers: order by them, don't show
            first = ["sweeps"] if many and "sweeps" in cols else [c for c in cols if c.endswith("_idx")]
            q = self.query("table", table=table, cols=shown, order=_order(cols, first, desc=many))
            self.ctx["extended"].append(tabulate(
                self.con, q, title.format(tz=self.settings.profile_def.time_zone_label), table,
                limit=MAX_ROWS if many else 200, note=f"Full table: csv/{table}.csv." if many else ""))

    def performance(self) -> None:
        run_id = self.ctx.get("run", {}).get("run_id")
        if run_id is not None and table_columns(self.con, "run_stages"):
            t = self.ctx["tables"]["stages"] = tabulate(
                self.con, self.query("stages", {"run_id": run_id}), "Stages of the last run", "run_stages",
                note="The report's own stage is added to run_stages once the report is written.")
            rows = t.data
            self.ctx["spilled_bytes"] = sum(r[6] or 0 for r in rows) if rows else None
            self.ctx["stage_peak"] = max((r[5] for r in rows if r[5] is not None), default=None)
        cols, rows = self.query("unit_timings", has_batch="batch_id" in table_columns(self.con, "units")).run(self.con)
        self.ctx["unit_timing"] = dict(zip(cols, rows[0])) if rows else {}
        self.ctx["tables"]["slowest"] = tabulate(self.con, self.query("slowest", {"limit": 10}), "Slowest units",
                                                 "units")
        cols = table_columns(self.con, "runs")
        keep = [c for c in ("run_id", "started_at", "finished_at", "status", "strategy", "units_done",
                            "units_failed", "peak_rss_bytes") if c in cols]
        first = ["started_at"] if "started_at" in cols else []
        self.ctx["tables"]["runs"] = tabulate(
            self.con, self.query("table", table="runs", cols=keep, order=_order(cols, first, desc=True)),
            "Runs", "runs", limit=20)


def _order(cols: list[str], first: list[str] | None = None, desc: bool = False) -> list[dict[str, Any]]:
    """ORDER BY for sql/report/table.sql: ``first`` (descending, NULLs last, when ``desc``), then every
    column of the table ascending, so that ties are broken the same way on every run."""
    first = first or []
    return [{"col": c, "desc": desc} for c in first] + [{"col": c, "desc": False} for c in cols if c not in first]


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


def apply_statuses(rows: list[tuple], statuses: dict[tuple[int, date], str],
                   wanted: set[tuple[int, date]] | None) -> list[tuple]:
    """Overlay effective statuses on units rows (security_code, date, status, ...) and add the
    store's units that the units table does not list yet (of the selection ``wanted``, when there
    is one), as pending."""
    if not statuses:
        return rows
    out = [(r[0], r[1], statuses.get((r[0], r[1]), r[2])) + tuple(r[3:]) for r in rows]
    known = {(r[0], r[1]) for r in rows}
    extra = [k for k, st in statuses.items() if k not in known and (wanted is None or k in wanted)]
    out += [(k[0], k[1], statuses[k]) + (None,) * (len(rows[0]) - 3 if rows else 6) for k in extra]
    return sorted(out, key=lambda r: (r[1], r[0]))


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
            _, rows = report_query("cost_hist", sec.scope, {"bins": 40}).run(con)
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
    scope = scope_groups(units_filter)
    if not report_query("scope", scope).run(con)[1][0][0]:
        raise EmptyWorkspace("nothing to report: none of the selected units is done; "
                             "run 'duckpipe run' on them first")
    sec = Sections(con, settings, scope)
    sec.safe("run summary", sec.run_summary)
    sec.safe("units", lambda: sec.units(None if units_filter is None else {tuple(u) for u in units_filter}))
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
    tables = [t for t in [sec.ctx.get("units_table"), *sec.ctx["tables"].values(), *sec.ctx["extended"]] if t]
    return ReportResult(out_dir, paths["html"], paths["markdown"], paths["performance"], csv_files,
                        list(sec.warnings), tables)
