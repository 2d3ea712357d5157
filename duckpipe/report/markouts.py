"""The report's "Markouts" section (SPEC §5.10): curve table and chart, liquidity by venue.

Kept apart from :mod:`duckpipe.report.build` so that the section is one unit: it reads only the
aggregates of :mod:`duckpipe.analysis.markouts` (all done units, like the other aggregates) and, like every
section, turns a missing table into a warning rather than a crash.
"""
from __future__ import annotations

from typing import Any

from ..analysis.markouts import CURVES
from . import charts
from .formatting import make_table
from .queries import run_template, select_all, table_columns


def build(sec: Any) -> None:
    """Fill ``sec.ctx`` with tables ``markouts``, ``liquidity``, ``liquidity_by_security`` and
    chart ``markouts``; ``sec`` is a report.Sections."""
    con, ctx = sec.con, sec.ctx
    if not sec.has("agg_markouts", "agg_liquidity_by_venue"):
        return
    cols, rows = run_template(con, "markouts")
    ctx["tables"]["markouts"] = make_table(
        "Markout curves by source, venue and horizon", "agg_markouts",
        "SELECT * FROM agg_markouts ORDER BY source, venue, horizon_s", cols, rows,
        note="Markout = s (mid at t + h - fill price) / fill price, bps: positive = the mid moved in the "
             "trader's favour, negative = adverse selection. Mean volume-weighted over fills with a mid; "
             "95% interval from the weighted variance and Kish's effective size. By group and size "
             "bucket: agg_markouts_by_group, agg_markouts_by_size (CSV).")
    ctx["markout_rows"] = [dict(zip(cols, r)) for r in rows]
    cols, rows = run_template(con, "liquidity")
    ctx["tables"]["liquidity"] = make_table(
        "Liquidity by venue class", "agg_liquidity_by_venue",
        "SELECT * FROM agg_liquidity_by_venue", cols, rows,
        note="Trades counted once per match group; spreads and impact in bps of the mid at the trade, "
             "signed by the aggressor and volume-weighted over signed volume (effective = realized + "
             "impact); quoted spread time-weighted; venue 'all' = every trade.")
    if table_columns(con, "agg_liquidity"):
        cols, rows = select_all(con, "agg_liquidity", "volume")
        ctx["tables"]["liquidity_by_security"] = make_table(
            "Liquidity by security and venue", "agg_liquidity",
            "SELECT * FROM agg_liquidity ORDER BY volume DESC", cols, rows, limit=60)

    def chart() -> None:
        by_curve: dict[tuple[str, str], list[tuple]] = {}
        for r in ctx["markout_rows"]:
            by_curve.setdefault((r["source"], r["venue"]), []).append(
                (r["horizon_seconds"], r["mean_markout_bps"], r["ci_low_bps"], r["ci_high_bps"], r["marked_fills"]))
        colour = {("real", "centre_point"): "cp", ("real", "lit"): "real", ("sim", "dark_sim"): "sim"}
        ctx["charts"]["markouts"] = charts.markout_curves(
            [(label, colour[key], sorted(by_curve.get(key, []))) for key, label in CURVES.items()])

    sec.safe("markout chart", chart)
