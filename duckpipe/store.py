"""The typed Parquet store written by ingest, and the views over it.

Views list their files explicitly (from ``ingest_files``), so a file left behind by a
killed ingest is never visible, and the engine can build the same views over a subset of
files on its own in-memory connection.

The catalog records store paths relative to the workspace (the folder of ``duckpipe.duckdb``),
so a moved or copied workspace reads its own store: ``store_files`` resolves them against the
catalog's folder, and the catalog's views name them relatively, found through the
``file_search_path`` that ``sql/catalog/ingest.sql`` sets to the workspace on every open (an
outside DuckDB client started in the workspace folder resolves them the same way).
"""
from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path
from typing import Iterable

import duckdb

from .db import run_script
from .profiles import Profile, get_profile

log = logging.getLogger(__name__)


def workspace_root(con: duckdb.DuckDBPyConnection) -> Path:
    """The folder of the connection's database file (the workspace); cwd for in-memory ones."""
    row = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
                      ).fetchone()
    return Path(row[0]).resolve().parent if row and row[0] else Path.cwd()


def relative(path: str | Path, root: str | Path) -> str:
    """How the catalog records a store path: relative to the workspace when inside it."""
    path, root = Path(path).resolve(), Path(root).resolve()
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def absolute(path: str, root: str | Path) -> str:
    """A recorded store path as an absolute one (paths of older catalogs are absolute already)."""
    return path if os.path.isabs(path) else str(Path(root) / path)


def store_files(con: duckdb.DuckDBPyConnection, tables: Iterable[str] | None = None,
                dates: Iterable[dt.date] | None = None, root: str | Path | None = None,
                *, relative_paths: bool = False) -> dict[str, list[str]]:
    """Store paths per table that the manifest lists (reference tables ignore ``dates``).

    Absolute, resolved against ``root`` (default: the folder of the catalog ``con`` has
    open), unless ``relative_paths`` asks for them as recorded.
    """
    rows = con.execute(
        "SELECT table_name, path, date FROM ingest_files ORDER BY table_name, date, path").fetchall()
    base = None if relative_paths else (Path(root) if root is not None else workspace_root(con))
    want_t = set(tables) if tables is not None else None
    want_d = set(dates) if dates is not None else None
    out: dict[str, list[str]] = {}
    for table, path, date in rows:
        if want_t is not None and table not in want_t:
            continue
        if want_d is not None and date is not None and date not in want_d:
            continue
        out.setdefault(table, []).append(path if base is None else absolute(path, base))
    return out


def view_columns(profile: Profile, table: str) -> list[tuple[str, str]]:
    """Typed columns of a view: store columns plus ``date`` for event tables."""
    tdef = profile.tables[table]
    if tdef.kind != "event":
        return [("_empty", "VARCHAR")]
    return tdef.store_columns() + [("date", "DATE")]


def create_views(con: duckdb.DuckDBPyConnection, files: dict[str, list[str]],
                 profile: Profile | None = None) -> None:
    """(Re)create one view per profile table over ``files``; no files gives an empty typed view."""
    profile = profile or get_profile("asx")
    for table, tdef in profile.tables.items():
        paths = sorted(files.get(table, []))
        run_script(con, "ingest/view.sql", name=table, files=paths,
                   hive=tdef.kind == "event", columns=view_columns(profile, table))
    log.debug("views over %s", {t: len(v) for t, v in files.items()})


def refresh_catalog_views(con: duckdb.DuckDBPyConnection, profile: Profile | None = None) -> None:
    """Point the catalog's views at the files the manifest lists now (workspace-relative)."""
    create_views(con, store_files(con, relative_paths=True), profile)


__all__ = ["store_files", "workspace_root", "relative", "absolute", "create_views", "refresh_catalog_views", "view_columns"]
