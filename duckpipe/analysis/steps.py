"""Per-unit analysis (SPEC §5.1-§5.7) as set-based SQL over all units of a batch.

Every step is one template under ``sql/analysis/`` producing temp tables (``a_*``); Python only
binds parameters, runs the dark-book simulation (:mod:`duckpipe.analysis.simulate`) between the SQL that
prepares its inputs and the SQL that summarises its matches, and hands the result tables back as
Arrow. A batch of many units runs the same statements once (never a query per unit), and every
read of ``orders``/``trades``/``nbbo`` is filtered on constant lists of dates and securities so
that DuckDB prunes Parquet files and row groups.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any, NamedTuple

import duckdb
import pyarrow as pa

from ..profiles import Profile, get_profile
from ..settings import PARAMS
from ..sqlrender import render, run_script
from . import markouts
from .simulate import simulate_batch

log = logging.getLogger(__name__)

UNIT_TEMPLATES: list[str] = [
    "analysis/000_batch.sql",
    "analysis/010_quotes.sql",
    "analysis/020_cp_orders.sql",
    "analysis/030_order_states.sql",
    "analysis/040_sweep_fills.sql",
    "analysis/050_sweeps.sql",
    "analysis/060_scenario_costs.sql",
    "analysis/070_dark_inputs.sql",
    "analysis/080_dark_results.sql",
    "analysis/085_markouts.sql",
    "analysis/086_liquidity.sql",
    "analysis/090_cleanup.sql",
]
# Jinja macros the steps import: hashed into unit signatures with the steps, never run alone.
SHARED_TEMPLATES: list[str] = ["analysis/_business_date.sql"]
_DARK_RESULTS = "analysis/080_dark_results.sql"
_CLEANUP = "analysis/090_cleanup.sql"

RESULT_TABLES: list[str] = ["order_states", "sweeps", "scenario_costs", "dark_matches", "dark_sweeps",
                             "markouts", "liquidity"]
_SOURCE = {name: f"a_{name}" for name in RESULT_TABLES}     # result table -> temp table of the batch


class SizeBucket(NamedTuple):
    lo: int | None            # inclusive; None: no lower edge
    hi: int | None            # exclusive; None: no upper edge
    label: str


def size_bucket_labels(edges: list[int]) -> list[SizeBucket]:
    """One bucket per interval of the edges: [100, 1000] -> '<100', '100-999', '>=1000'."""
    if not edges:
        return [SizeBucket(None, None, "all")]
    inner = [SizeBucket(lo, hi, f"{lo}-{hi - 1}") for lo, hi in zip(edges, edges[1:])]
    return [SizeBucket(None, edges[0], f"<{edges[0]}"), *inner, SizeBucket(edges[-1], None, f">={edges[-1]}")]


def _effective_params(params: dict[str, Any] | None) -> dict[str, Any]:
    """Defaults from settings.PARAMS under the given values (parsed again, so raw strings work)."""
    out = {k: spec.default for k, spec in PARAMS.items()}
    for k, v in (params or {}).items():
        if k in PARAMS:
            out[k] = PARAMS[k].parse(v) if isinstance(v, str) else v
    return out


def render_context(units: list[tuple[int, dt.date]], params: dict[str, Any] | None,
                   scenarios: list[dict[str, Any]], profile: Profile | None = None
                   ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(Jinja context: which optional clauses exist and the profile's codes, bound values) for a batch.

    With ``day_rollover`` set, events at or after that local time belong to the next date, so a
    unit of date d also reads the store partition of d - 1. ``profile`` (default: the default
    profile) gives the time zone and code sets, rendered as validated literals.
    """
    profile = profile or get_profile()
    p = _effective_params(params)
    if p["qualifying_dealsources"] is None:
        p["qualifying_dealsources"] = list(profile.qualifying_dealsources)
    secs = [int(s) for s, _ in units]
    dates = [d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d)) for _, d in units]
    read_dates = set(dates)
    if p["day_rollover"]:
        read_dates |= {d - dt.timedelta(days=1) for d in dates}
    buckets = size_bucket_labels(list(p["size_buckets"] or []))
    bind: dict[str, Any] = {
        "unit_securities": secs,
        "unit_dates": dates,
        "read_dates": sorted(read_dates),
        "qualifying_dealsources": [int(x) for x in p["qualifying_dealsources"]],
        "bucket_lo": [b[0] for b in buckets],
        "bucket_hi": [b[1] for b in buckets],
        "bucket_label": [b[2] for b in buckets],
        "bucket_idx": list(range(len(buckets))),
        "scn_name": [str(s["name"]) for s in scenarios],
        "scn_share": [float(s["dark_share"]) for s in scenarios],
        "scn_rest": [str(s.get("rest", "real")) for s in scenarios],
        "scn_impact": [float(s.get("impact_bps", 0.0) or 0.0) for s in scenarios],
    }
    bind.update(markouts.bind_values(p, profile))
    if p["day_rollover"]:
        bind["day_rollover"] = p["day_rollover"]
    if p["session_window"]:
        bind["sw_start"], bind["sw_end"] = p["session_window"].split("-")
    if p["participants"]:
        bind["participants"] = [int(x) for x in p["participants"]]
    ctx = {"day_rollover": bool(p["day_rollover"]), "session_window": bool(p["session_window"]),
           "participants": bool(p["participants"]), **profile.sql_context()}
    return ctx, bind


def compute_batch(con: duckdb.DuckDBPyConnection, units: list[tuple[int, dt.date]],
                  params: dict[str, Any] | None, scenarios: list[dict[str, Any]], *,
                  timings: dict[str, float] | None = None, profile: Profile | None = None
                  ) -> dict[str, pa.Table]:
    """Run every step for all ``units`` at once; one Arrow table per RESULT_TABLES entry.

    ``timings`` (optional) receives seconds per step (template name, plus ``simulate``) for the
    engine's run_stages; ``profile`` is the input profile (default: the default profile).
    """
    ctx, bind = render_context(units, params, scenarios, profile)
    results: dict[str, pa.Table] = {}
    try:
        for template in UNIT_TEMPLATES:
            if template == _DARK_RESULTS:
                t0 = time.perf_counter()
                matches, outcomes = simulate_batch(con.table("a_sim_sweeps").to_arrow_table(),
                                                   con.table("a_sim_contras").to_arrow_table())
                con.register("sim_matches_arrow", matches)
                con.register("sim_outcomes_arrow", outcomes)
                _note(timings, "simulate", t0)
            if template == _CLEANUP:
                t0 = time.perf_counter()       # a step's view (085's a_markouts) is computed here
                results = {name: con.table(src).to_arrow_table() for name, src in _SOURCE.items()}
                _note(timings, "fetch results", t0)
            t0 = time.perf_counter()
            run_script(con, template, bind, **ctx)
            _note(timings, template, t0)
    finally:
        for view in ("sim_matches_arrow", "sim_outcomes_arrow"):
            try:
                con.unregister(view)
            except duckdb.Error:
                pass
    log.debug("batch of %d units: %s", len(units), {k: v.num_rows for k, v in results.items()})
    return results


def render_batch_sql(units: list[tuple[int, dt.date]], params: dict[str, Any] | None,
                     scenarios: list[dict[str, Any]], profile: Profile | None = None) -> str:
    """Every step's SQL as it would run for ``units`` (for ``run --dry-run``), with the bound values."""
    ctx, bind = render_context(units, params, scenarios, profile)
    head = ["-- bound parameters:"] + [f"--   ${k} = {v!r}" for k, v in bind.items()]
    steps = [f"-- ===== {t}\n" + render(t, **ctx) for t in UNIT_TEMPLATES]
    return "\n".join(head) + "\n" + "\n".join(steps)


def _note(timings: dict[str, float] | None, key: str, t0: float) -> None:
    if timings is not None:
        timings[key] = timings.get(key, 0.0) + time.perf_counter() - t0


__all__ = ["UNIT_TEMPLATES", "SHARED_TEMPLATES", "RESULT_TABLES", "compute_batch", "render_context", "size_bucket_labels"]
