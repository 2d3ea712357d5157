"""Post-run aggregates (SPEC §5.9): agg_* and ts_* tables over the units that are done.

Every aggregate is the same query grouped by different key columns: the per-unit partial sums of
``sql/partials/facts.sql`` (kept in the catalog and rebuilt only for the units whose done state
changed, :mod:`.partials`) are combined by ``020_group.sql``, rendered once per entry of
``AGGREGATES``, the only place that names the tables and their keys. Each table is rebuilt with CREATE OR REPLACE inside one transaction, so a
reader sees either all the old aggregates or all the new ones. Only units with status 'done'
count: a failed or half-written unit never leaks into a total.
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import duckdb

from ..db import execute
from ..errors import DuckpipeError
from ..settings import Settings
from ..sqlrender import run_script
from . import markouts, partials

log = logging.getLogger(__name__)

AGGREGATE_TEMPLATES: list[str] = ["aggregate/020_group.sql", *partials.TEMPLATES]
FAMILIES = ["facts", "markouts", "liquidity"]   # the partials the aggregates combine
# the partial grain (sql/partials/facts.sql) holding each set of keys besides the unit key
_GRAINS = {(): "unit", ("participantid",): "participant", ("arrival_hour",): "hour",
           ("size_bucket_idx", "size_bucket"): "size"}

# table -> key columns (in the per-unit result tables); [] is the one-row global summary.
AGGREGATES: dict[str, list[str]] = {
    "agg_by_security": ["security_code"],
    "agg_by_date": ["date"],
    "agg_by_participant": ["participantid"],
    "agg_by_hour": ["arrival_hour"],
    "agg_by_size": ["size_bucket_idx", "size_bucket"],   # idx orders the buckets by size
    "agg_global": [],
    "ts_daily": ["date"],
    "ts_hourly": ["date", "arrival_hour"],
}


def build_aggregates(con: duckdb.DuckDBPyConnection, settings: Settings, *,
                     incremental: bool = False) -> dict[str, int]:
    """Rebuild every aggregate table from done units; returns {table: rows}.

    ``incremental``: rebuild only the partials of units whose done state changed (the engine's
    post-run stage); else every unit's (a direct call cannot know which result rows changed).
    Runs in the caller's transaction when one is open, else in its own.
    """
    scenarios, params = scenario_columns(settings.scenarios)
    rows: dict[str, int] = {}
    group = AGGREGATE_TEMPLATES[0]
    with own_transaction(con):
        partials.refresh(con, FAMILIES, full=not incremental)
        for table, keys in AGGREGATES.items():
            grain = _GRAINS[tuple(k for k in keys if k not in ("security_code", "date"))]
            run_script(con, group, {**params, "grain": grain}, table=table, keys=keys, scenarios=scenarios,
                       price_scale=settings.profile_def.price_scale)
            rows[table] = execute(con, f'SELECT count(*) FROM "{table}"').fetchall()[0][0]
        rows.update(markouts.build_aggregates(con, settings.profile_def.price_scale, refreshed=True))     # SPEC §5.10 curves and liquidity
    log.info("aggregates rebuilt: %s", ", ".join(f"{t} {n}" for t, n in rows.items()))
    return rows


def scenario_columns(scenarios: list[dict[str, Any]]) -> tuple[list[dict[str, str]], dict[str, str]]:
    """One ``savings_bps_<name>`` column per scenario ('-' becomes '_') and its bound name.

    Raises DuckpipeError when two scenario names map to the same column.
    """
    columns: list[dict[str, str]] = []
    params: dict[str, str] = {}
    seen: dict[str, str] = {}
    for i, scenario in enumerate(scenarios):
        name = str(scenario["name"])
        column = "savings_bps_" + name.replace("-", "_")
        if column in seen:
            raise DuckpipeError(f"scenarios {seen[column]!r} and {name!r} both map to the column"
                                f" {column}; rename one of them in duckpipe.toml")
        seen[column] = name
        columns.append({"column": column, "param": f"scenario_{i}"})
        params[f"scenario_{i}"] = name
    return columns, params


def in_transaction(con: duckdb.DuckDBPyConnection) -> bool:
    """True when ``con`` holds an open BEGIN: then txid_current() repeats across statements.

    (A failed BEGIN would abort the caller's transaction in DuckDB, so we cannot just try.)
    """
    first = con.execute("SELECT txid_current()").fetchall()[0][0]
    return con.execute("SELECT txid_current()").fetchall()[0][0] == first


@contextlib.contextmanager
def own_transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """BEGIN/COMMIT around the block unless the caller already holds a transaction.

    The engine calls the post-run steps inside its own transaction; a direct caller (tests, the
    API) gets the same all-or-nothing rebuild.
    """
    if in_transaction(con):
        yield  # the caller's transaction commits or rolls back
        return
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
