"""The report's "Markouts" section (SPEC §5.10): curve table and chart, liquidity by venue.

Kept apart from :mod:`duckpipe.report.build` so that the section is one unit: it reads only the
aggregates of :mod:`duckpipe.analysis.markouts` (all done units, like the other aggregates) and, like every
section, turns a missing table into a warning rather than a crash.
"""
from __future__ import annotations

from typing import Any

from ..analysis.markouts import CURVES
from . import charts
from .provenance import report_query, tabulate
from .queries import table_columns


def build(sec: Any) -> None:
    """Fill ``sec.ctx`` with tables ``markouts``, ``liquidity``, ``liquidity_by_security`` and
    chart ``markouts``; ``sec`` is a report.Sections."""
    con, ctx = sec.con, sec.ctx
    if not sec.has("agg_markouts", "agg_liquidity_by_venue"):
        return
    t = ctx["tables"]["markouts"] = tabulate(
        con, report_query("markouts"), "Markout curves by source, venue and horizon", "agg_markouts",
        note="Markout = s (mid at t + h - fill price) / fill price, bps: positive = the mid moved in the "
             "trader's favour, negative = adverse selection. Mean volume-weighted over fills with a mid; "
             "95% interval from the weighted variance and Kish's effective size. By group and size "
             "bucket: agg_markouts_by_group, agg_markouts_by_size (CSV).")
    ctx["markout_rows"] = [dict(zip(t.columns, r)) for r in t.data]
    ctx["tables"]["liquidity"] = tabulate(
        con, report_query("liquidity"), "Liquidity by venue class", "agg_liquidity_by_venue",
        note="Trades counted once per match group; spreads and impact in bps of the mid at the trade, "
             "signed by the aggressor and volume-weighted over signed volume (effective = realized + "
             "impact); quoted spread time-weighted; venue 'all' = every trade.")
    cols = table_columns(con, "agg_liquidity")
    if cols:    # by volume, largest first (then every column: the same order on every run)
        order = [{"col": c, "desc": c == "volume"} for c in sorted(cols, key=lambda c: c != "volume")]
        ctx["tables"]["liquidity_by_security"] = tabulate(
            con, report_query("table", table="agg_liquidity", cols=cols, order=order),
            "Liquidity by security and venue", "agg_liquidity", limit=60)

    def chart() -> None:
        by_curve: dict[tuple[str, str], list[tuple]] = {}
        for r in ctx["markout_rows"]:
            by_curve.setdefault((r["source"], r["venue"]), []).append(
                (r["horizon_seconds"], r["mean_markout_bps"], r["ci_low_bps"], r["ci_high_bps"], r["marked_fills"]))
        colour = {("real", "centre_point"): "cp", ("real", "lit"): "real", ("sim", "dark_sim"): "sim"}
        ctx["charts"]["markouts"] = charts.markout_curves(
            [(label, colour[key], sorted(by_curve.get(key, []))) for key, label in CURVES.items()])

    sec.safe("markout chart", chart)
