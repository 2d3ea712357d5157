"""The catalog: ``duckpipe.duckdb`` opened for a command, with its bookkeeping tables.

This module owns the bookkeeping DDL (``sql/catalog/``: ingest manifest and rejects, store
files, units, runs, run stages, the results manifest). Who writes each table: ingest (``ingest.load``) the
ingest tables, ``engine.units`` the checkpoint rows of ``units``, ``engine.runs`` the rows
of ``runs`` and ``run_stages``. Result tables belong to their pipeline (``analysis.pipelines``).
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import duckdb

from . import db, results, store
from .settings import Settings
from .sqlrender import run_script

CATALOG_TEMPLATES = ("catalog/ingest.sql", "catalog/engine.sql", "catalog/results.sql")


def ensure_catalog(con: duckdb.DuckDBPyConnection) -> None:
    """Create the bookkeeping tables when missing: idempotent."""
    for template in CATALOG_TEMPLATES:
        run_script(con, template)


@contextlib.contextmanager
def open_workspace(settings: Settings, command: str, *, create: bool = True
                   ) -> Iterator[duckdb.DuckDBPyConnection]:
    """Lock the workspace, open ``duckpipe.duckdb`` with the settings, ensure the catalog.

    A moved workspace gets its views repointed at once (they name absolute paths).
    """
    with db.locked_connection(settings.workspace, command, memory_limit=settings.memory_limit,
                              threads=settings.threads, temp_dir=settings.temp_dir, create=create) as con:
        ensure_catalog(con)
        store.heal_views(con, profile=settings.profile_def)
        results.heal(con)
        yield con


def open_read_only(settings: Settings):
    """The catalog read-only under a shared lock (status, dry runs, doctor): changes nothing."""
    return db.open_read_only(settings.workspace)
