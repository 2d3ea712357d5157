"""Markouts and liquidity measures (SPEC §5.10): bound values, aggregates, statistics inputs.

The per-unit figures are SQL steps of the analysis (``sql/analysis/085_markouts.sql`` and
``086_liquidity.sql``); this module only supplies their bound values (the horizons and the
profile's venue classes, so no dealsource code is written in SQL) and rebuilds the aggregate
tables after a run from the per-unit partials (:mod:`.partials`; ``sql/aggregate/030_markouts.sql``
and ``040_liquidity.sql``, one table per
entry of ``MARKOUT_AGGREGATES`` / ``LIQUIDITY_AGGREGATES``, the only place naming them and their
keys). The statistics of §5.10 are ``sql/stats/050_markout_moments.sql`` and
``030_welch.sql`` (family ``welch_t_markout``), turned into tests by :mod:`duckpipe.stats`.

Confidence intervals of a volume-weighted mean markout m = sum(q x) / sum(q): with the weighted
variance v = sum(q (x - m)^2) / sum(q) and Kish's effective size n_eff = sum(q)^2 / sum(q^2),
se = sqrt(v / (n_eff - 1)) (the usual s / sqrt(n) when every q is equal), interval m +- 1.96 se.
"""
from __future__ import annotations

import logging
from typing import Any

import duckdb

from ..db import execute
from ..profiles import Profile, get_profile
from ..sqlrender import run_script
from . import partials

log = logging.getLogger(__name__)

MARKOUT_TEMPLATE = "aggregate/030_markouts.sql"
LIQUIDITY_TEMPLATE = "aggregate/040_liquidity.sql"
TEMPLATES: list[str] = [MARKOUT_TEMPLATE, LIQUIDITY_TEMPLATE]

# table -> key columns of ``markouts`` / ``liquidity`` (identifiers checked by the template's ident filter)
MARKOUT_AGGREGATES: dict[str, list[str]] = {
    "agg_markouts": ["source", "venue", "horizon_s"],
    "agg_markouts_by_group": ["source", "venue", "group_id", "horizon_s"],
    "agg_markouts_by_size": ["source", "venue", "size_bucket_idx", "size_bucket", "horizon_s"],
}
LIQUIDITY_AGGREGATES: dict[str, list[str]] = {
    "agg_liquidity": ["security_code", "venue"],
    "agg_liquidity_by_venue": ["venue"],
}
AGG_TABLES: list[str] = list(MARKOUT_AGGREGATES) + list(LIQUIDITY_AGGREGATES)

# The three curves of the report and the tests of §5.10: (source, venue) -> label
CURVES: dict[tuple[str, str], str] = {
    ("real", "centre_point"): "Real Centre Point",
    ("real", "lit"): "Real lit",
    ("sim", "dark_sim"): "Simulated dark",
}


def bind_values(params: dict[str, Any], profile: Profile | None = None) -> dict[str, Any]:
    """Bound values of the markout and liquidity steps for effective ``params`` (venue classes
    from the run's input ``profile``; default: the default profile)."""
    classes = (profile or get_profile()).venue_classes
    codes = [(int(code), str(name)) for name, cs in classes.items() for code in cs]
    return {
        "markout_horizons": [int(h) for h in params["markout_horizons"]],
        "liquidity_horizon_s": int(params["liquidity_horizon_s"]),
        "venue_code": [c for c, _ in codes],
        "venue_name": [n for _, n in codes],
        "trade_report_codes": [int(c) for c in classes.get("trade_report", ())],
    }


def build_aggregates(con: duckdb.DuckDBPyConnection, price_scale: int, *, refreshed: bool = False) -> dict[str, int]:
    """Rebuild the markout and liquidity aggregates from done units (caller's transaction);
    ``price_scale``: the profile's price units per currency unit. ``refreshed``: the caller
    brought the markouts and liquidity partials up to date (else every unit's are rebuilt)."""
    if not refreshed:
        partials.refresh(con, ["markouts", "liquidity"], full=True)
    rows: dict[str, int] = {}
    for template, tables in ((MARKOUT_TEMPLATE, MARKOUT_AGGREGATES), (LIQUIDITY_TEMPLATE, LIQUIDITY_AGGREGATES)):
        for table, keys in tables.items():
            run_script(con, template, table=table, keys=keys, price_scale=price_scale)
            rows[table] = execute(con, f'SELECT count(*) FROM "{table}"').fetchall()[0][0]
    return rows


__all__ = ["AGG_TABLES", "CURVES", "LIQUIDITY_AGGREGATES", "MARKOUT_AGGREGATES", "bind_values",
           "build_aggregates"]
