"""What a run computes: a named set of SQL templates, result tables and a batch function.

The engine knows nothing about the analysis: it plans batches, calls a pipeline's
``compute`` through an executor, and commits what comes back with the checkpoint rows.
``analysis`` is the study (SPEC §5); ``counts`` is a tiny pipeline that exercises the engine
in tests and benchmarks independently of the analysis. Both are module-level so that a
pipeline can be named in a job shipped to another process (the Dask executor).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb

from ..errors import UsageError
from ..profiles import Profile
from ..sqlrender import render, run_script, templates_digest

if TYPE_CHECKING:                       # pyarrow is imported where used: start-up stays light
    import pyarrow as pa

ComputeFn = Callable[[duckdb.DuckDBPyConnection, list[tuple[int, dt.date]], dict[str, Any],
                      list[dict[str, Any]]], "dict[str, pa.Table]"]


@dataclass(frozen=True)
class Pipeline:
    name: str
    templates: tuple[str, ...]          # hashed into every unit signature
    result_tables: tuple[str, ...]      # per-unit tables, each with security_code and date
    compute: ComputeFn
    catalog_template: str | None = None  # CREATE TABLE IF NOT EXISTS of the result tables
    tables_read: tuple[str, ...] = ("orders", "trades", "nbbo")
    finalize: Callable[..., dict[str, int]] | None = None   # post-run: aggregates, statistics
    finalize_templates: tuple[str, ...] = ()                 # hashed into the post-run freshness digest
    uses_profile: bool = False          # compute takes profile=, and the profile is in the signatures
    warm_up: Callable[[], None] | None = None  # imports finalize needs, run beside the batches

    def digest(self, profile: Profile | None = None) -> str:
        """What unit signatures hash besides data and parameters: the templates' text and, for a
        pipeline that reads the profile, the profile's fingerprint (its name, time zone, price
        scale, columns and code sets), so a change of profile makes done units stale."""
        digest = templates_digest(list(self.templates))
        if self.uses_profile and profile is not None:
            digest += ":" + profile.fingerprint()
        return digest

    def create_tables(self, con: duckdb.DuckDBPyConnection) -> None:
        """Create this pipeline's result tables when missing (it owns their DDL): idempotent."""
        if self.catalog_template:
            run_script(con, self.catalog_template)


def register_batch_units(con: duckdb.DuckDBPyConnection, units: list[tuple[int, dt.date]]) -> None:
    """The batch's units as a temp table ``_batch_units`` (templates join on it)."""
    import pyarrow as pa
    arrow = pa.table({"security_code": pa.array([int(s) for s, _ in units], pa.int32()),
                      "date": pa.array([d for _, d in units], pa.date32())})
    con.register("_batch_units_arrow", arrow)
    con.execute("CREATE OR REPLACE TEMP TABLE _batch_units AS SELECT * FROM _batch_units_arrow")
    con.unregister("_batch_units_arrow")


def _counts_compute(con, units, params, scenarios, timings=None) -> dict[str, pa.Table]:
    register_batch_units(con, units)
    return {"unit_counts": con.sql(render("testing/unit_counts.sql")).to_arrow_table()}


COUNTS = Pipeline(
    name="counts",
    templates=("testing/unit_counts.sql",),
    result_tables=("unit_counts",),
    compute=_counts_compute,
    catalog_template="testing/catalog_counts.sql",
)


def _analysis_pipeline() -> Pipeline:
    """The study (SPEC §5): imported on demand so that a ``counts`` run never loads scipy."""
    import functools

    from . import aggregate, stats, steps
    return Pipeline(
        name="analysis",
        templates=tuple(steps.UNIT_TEMPLATES) + tuple(steps.SHARED_TEMPLATES),
        result_tables=tuple(steps.RESULT_TABLES),
        compute=steps.compute_batch,
        catalog_template="analysis/results_ddl.sql",
        # incremental: the partials of units whose done state did not change are reused (SPEC §5.9)
        finalize=_make_finalize([("aggregate", functools.partial(aggregate.build_aggregates, incremental=True)),
                                 ("stats", functools.partial(stats.compute_stats, incremental=True))]),
        finalize_templates=tuple(dict.fromkeys(aggregate.AGGREGATE_TEMPLATES + stats.STATS_TEMPLATES)),
        uses_profile=True,
        warm_up=stats.import_distributions,
    )


def _make_finalize(steps):
    def finalize(con, settings, stage):
        out: dict[str, int] = {}
        for name, fn in steps:
            with stage(name) as st:
                result = fn(con, settings)
                rows = sum(result.values()) if isinstance(result, dict) else int(result or 0)
                st.rows = rows
                out[name] = rows
        return out
    return finalize


def get(name: str) -> Pipeline:
    if name == "counts":
        return COUNTS
    if name == "analysis":
        return _analysis_pipeline()
    raise UsageError(f"unknown pipeline {name!r}; valid: analysis, counts")
