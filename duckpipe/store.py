"""The typed Parquet store written by ingest, and the views over it.

Views list their files explicitly (from ``ingest_files``), so a file left behind by a
killed ingest is never visible, and the engine can build the same views over a subset of
files on its own in-memory connection.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Iterable

import duckdb

from .db import run_script
from .profiles import Profile, get_profile

log = logging.getLogger(__name__)


def store_files(con: duckdb.DuckDBPyConnection, tables: Iterable[str] | None = None,
                dates: Iterable[dt.date] | None = None) -> dict[str, list[str]]:
    """Absolute store paths per table that the manifest lists (reference tables ignore ``dates``)."""
    rows = con.execute(
        "SELECT table_name, path, date FROM ingest_files ORDER BY table_name, date, path").fetchall()
    want_t = set(tables) if tables is not None else None
    want_d = set(dates) if dates is not None else None
    out: dict[str, list[str]] = {}
    for table, path, date in rows:
        if want_t is not None and table not in want_t:
            continue
        if want_d is not None and date is not None and date not in want_d:
            continue
        out.setdefault(table, []).append(path)
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
    """Point the catalog's views at the files the manifest lists now."""
    create_views(con, store_files(con), profile)


__all__ = ["store_files", "create_views", "refresh_catalog_views", "view_columns"]
