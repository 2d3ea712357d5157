"""The catalog: ``duckpipe.duckdb`` opened for a command, with its bookkeeping tables.

This module owns the bookkeeping DDL (``sql/catalog/``: ingest manifest and rejects, store
files, units, runs, run stages, the results manifest). Who writes each table: ingest (``ingest.load``) the
ingest tables, ``engine.units`` the checkpoint rows of ``units``, ``engine.runs`` the rows
of ``runs`` and ``run_stages``. Result tables belong to their pipeline (``analysis.pipelines``).
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import duckdb

from . import db, results, store
from .errors import UsageError
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
    check_path(settings.workspace)
    with db.locked_connection(settings.workspace, command, memory_limit=settings.memory_limit,
                              threads=settings.threads, temp_dir=settings.temp_dir, create=create) as con:
        ensure_catalog(con)
        store.heal_views(con, profile=settings.profile_def)
        results.heal(con)
        yield con


def open_read_only(settings: Settings):
    """The catalog read-only under a shared lock (status, dry runs, doctor): changes nothing."""
    check_path(settings.workspace)
    return db.open_read_only(settings.workspace)


def check_path(workspace: Path) -> None:
    """Refuse a workspace below a folder named like a partition (``name=value``): the store and
    result views read their ``date=`` folders as a column, and DuckDB reads every such folder of
    a path, so ``/lake/security_code=7/ws`` would show 7 as every row's security. Refuse a
    workspace path with ``[``, ``*`` or ``?`` too: DuckDB reads the views' paths as globs."""
    folder = next((part for part in Path(workspace).parts if "=" in part), None)
    if folder:
        raise UsageError(f"workspace {workspace}: its folder {folder!r} is named like a partition (name=value),"
                         " which DuckDB would read as a column of every stored row; use a workspace"
                         " path without '=' in it")
    folder = next((part for part in Path(workspace).parts if any(c in part for c in "[*?")), None)
    if folder:     # the views' file lists would be glob patterns: `ws [a]` reads the files of `ws a`
        raise UsageError(f"workspace {workspace}: its folder {folder!r} has a glob character ([, * or ?),"
                         " which DuckDB would read as a pattern matching other folders' files; use a"
                         " workspace path without [, * or ? in it")
