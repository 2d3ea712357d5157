"""Per-unit partial aggregates (SPEC §5.9: "incrementally: their cost follows the units that changed").

Every agg_*/ts_* table and every test of ``stats_tests`` is a combination of additive sufficient
statistics (counts, exact integer sums, float sums, and per-cell (n, sum, m2) for spreads). This
module keeps those statistics per done unit in catalog tables (``sql/partials/ddl.sql``), one
*family* per source of rows:

- ``facts``: ``agg_partials_facts`` (the eight §5.9 tables), from order_states, sweeps, dark_sweeps,
  scenario_costs;
- ``markouts``: ``agg_partials_markouts`` and ``agg_partials_labels`` (the §5.10 curves and tests);
- ``liquidity``: ``agg_partials_liquidity``;
- ``stats``: ``stats_partials`` (the §5.8 tests).

:func:`refresh` brings one family up to date: a unit's partials are built from the result tables
(read by name, so views over result files work as well as tables) only when its done state changed
(signature, finish time, run id: ``sql/partials/changes.sql``); partials of units no longer done are
dropped. A change of a family's templates rebuilds that family from scratch. The combination into
the final tables is in :mod:`.aggregate`, :mod:`.markouts` and :mod:`.stats`.

Medians and quantiles are in no aggregate table and have no partials (they are not additive): the
report computes them exactly at report time from the result tables (``sql/report/groups.sql``,
``scenarios.sql``, ``cost_hist.sql``, ``unit_timings.sql``).

Floating-point sums combine in another order than a full recompute (DuckDB's parallel sums do
too): results agree to ~1e-12 relative; counts and integer sums are exact.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import duckdb

from ..db import execute
from ..sqlrender import run_script, templates_digest

log = logging.getLogger(__name__)

DDL = "partials/ddl.sql"
CHANGES = "partials/changes.sql"
# family -> (template that appends the partial rows of the units in _partial_build, its tables)
FAMILIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "facts": ("partials/facts.sql", ("agg_partials_facts",)),
    "markouts": ("partials/markouts.sql", ("agg_partials_markouts", "agg_partials_labels")),
    "liquidity": ("partials/liquidity.sql", ("agg_partials_liquidity",)),
    "stats": ("partials/stats.sql", ("stats_partials",)),
}
TEMPLATES: list[str] = [DDL, CHANGES, *(t for t, _ in FAMILIES.values())]


@dataclass(frozen=True)
class Refreshed:
    family: str
    built: int      # units whose partials were (re)built
    dropped: int    # units whose old partials were removed (rebuilt or no longer done)


def family_digest(family: str) -> str:
    return templates_digest([DDL, CHANGES, FAMILIES[family][0]])[:32]


def refresh(con: duckdb.DuckDBPyConnection, families: list[str], *, full: bool = False) -> list[Refreshed]:
    """Bring the partials of ``families`` up to date with the done units (caller's transaction).

    ``full``: drop and rebuild every unit's partials (what a direct call of the aggregation does,
    since result rows may have been written without a checkpoint change).
    """
    run_script(con, DDL)
    refresh_id = con.execute("SELECT coalesce(max(refresh_id), 0) + 1 FROM agg_partial_units").fetchall()[0][0]
    out = []
    for family in families:
        template, tables = FAMILIES[family]
        digest = family_digest(family)
        row = con.execute("SELECT digest FROM agg_partial_families WHERE family = $f", {"f": family}).fetchall()
        if not row or row[0][0] != digest:          # new or edited templates: new table shapes
            for table in tables:
                execute(con, f'DROP TABLE IF EXISTS "{table}"')
            run_script(con, DDL)
        rebuild = full or not row or row[0][0] != digest
        run_script(con, CHANGES, {"family": family, "full": rebuild})
        dropped = con.execute("SELECT count(*) FROM _partial_drop").fetchall()[0][0]
        if rebuild:
            for table in tables:
                execute(con, f'DELETE FROM "{table}"')
        elif dropped:
            for table in tables:
                execute(con, f'DELETE FROM "{table}" t USING _partial_drop d'
                             " WHERE t.security_code = d.security_code AND t.date = d.date")
        con.execute("DELETE FROM agg_partial_units s USING _partial_drop d WHERE s.family = $f"
                    " AND s.security_code = d.security_code AND s.date = d.date", {"f": family})
        built, lo, hi, dates = con.execute("SELECT count(*), min(date), max(date), list(DISTINCT date)"
                                           " FROM _partial_build").fetchall()[0]
        if built:
            run_script(con, template, {"lo": lo, "hi": hi, "dates": dates})
            con.execute("INSERT INTO agg_partial_units SELECT $f, security_code, date, token, $r FROM _partial_build",
                        {"f": family, "r": refresh_id})
        con.execute("INSERT OR REPLACE INTO agg_partial_families VALUES ($f, $d)", {"f": family, "d": digest})
        out.append(Refreshed(family, built, dropped))
    for temp in ("_partial_current", "_partial_drop", "_partial_build"):
        con.execute(f"DROP TABLE IF EXISTS {temp}")
    log.info("partials: %s", ", ".join(f"{r.family} {r.built} built/{r.dropped} dropped" for r in out))
    return out


__all__ = ["FAMILIES", "TEMPLATES", "Refreshed", "refresh"]
