"""The typed Parquet store written by ingest, and the views over it.

Views list their files explicitly (from ``ingest_files``), so a file left behind by a
killed ingest is never visible, and the engine can build the same views over a subset of
files on its own in-memory connection.

The catalog records store paths relative to the workspace (the folder of ``duckpipe.duckdb``),
so a moved or copied workspace reads its own store: ``store_files`` resolves them against the
catalog's current folder. The catalog's own views name absolute paths (so any DuckDB client,
from any working directory, can query them); ``ingest_views_root`` remembers the folder they
were built for, and ``store_files`` / ``ingest`` on a writable catalog repoint them when the
workspace has moved.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path

import duckdb

from .db import QueryError
from .profiles import Profile, get_profile
from .sqlrender import run_script

log = logging.getLogger(__name__)


def workspace_root(con: duckdb.DuckDBPyConnection) -> Path:
    """The folder of the connection's database file (the workspace); cwd for in-memory ones."""
    rows = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
                       ).fetchall()         # fetchall: DuckDB 2 refuses new work while a result is unfinished
    return Path(rows[0][0]).resolve().parent if rows and rows[0][0] else Path.cwd()


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
    if root is None and not relative_paths:
        root = workspace_root(con)
        heal_views(con, root)
    rows = con.execute(
        "SELECT table_name, path, date FROM ingest_files ORDER BY table_name, date, path").fetchall()
    base = None if relative_paths else Path(root)
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
                 profile: Profile | None = None, *, temp: bool = False) -> None:
    """(Re)create one view per profile table over ``files``; no files gives an empty typed view.

    ``temp``: views of this connection only (an executor's connections to one in-memory database
    each compute their own batch over their own dates)."""
    profile = profile or get_profile()
    for table, tdef in profile.tables.items():
        paths = sorted(files.get(table, []))
        run_script(con, "ingest/view.sql", name=table, files=paths, temp=temp,
                   hive=tdef.kind == "event", columns=view_columns(profile, table))
    log.debug("views over %s", {t: len(v) for t, v in files.items()})


def refresh_catalog_views(con: duckdb.DuckDBPyConnection, profile: Profile | None = None) -> None:
    """Point the catalog's views at the files the manifest lists now, at the workspace's place."""
    root = workspace_root(con)
    files = store_files(con, root=root)
    try:
        create_views(con, files, profile)
    except QueryError:                      # a damaged store file: leave it out, doctor repairs it
        create_views(con, without_damaged(files), profile)
    con.execute("DELETE FROM ingest_views_root")
    con.execute("INSERT INTO ingest_views_root VALUES ($r)", {"r": str(root)})


def heal_views(con: duckdb.DuckDBPyConnection, root: Path | None = None,
               profile: Profile | None = None) -> bool:
    """Repoint the catalog's views when the workspace moved since they were built.

    A read-only connection (status, dry run) leaves them alone. Returns whether it repointed.
    """
    root = root or workspace_root(con)
    try:
        built = con.execute("SELECT root FROM ingest_views_root").fetchall()
    except duckdb.CatalogException:           # not a duckpipe catalog (in-memory executor)
        return False
    if built and built[0][0] == str(root):
        return False
    if not built and not con.execute("SELECT count(*) FROM ingest_files").fetchall()[0][0]:
        return False
    read_only = con.execute("SELECT readonly FROM duckdb_databases()"
                            " WHERE database_name = current_database()").fetchall()
    if read_only and read_only[0][0]:
        return False
    log.info("workspace moved (views were built for %s): repointing the views at %s",
             built[0][0] if built else "another folder", root)
    refresh_catalog_views(con, profile)
    return True



def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = re.sub(r"""\s*(at end of file|in file|of file)?\s*['"][^'"]*\.parquet['"]""", "", text[0] if text else "")
    return f"{type(exc).__name__}: {first.replace('Invalid Input Error: ', '')}"


def damaged_among(paths: Iterable[str]) -> list[tuple[str, str]]:
    """Quick check of absolute store paths (present, footer readable): (path, why) of damaged ones."""
    out = []
    con = duckdb.connect(":memory:")
    try:
        for p in paths:
            if not Path(p).is_file():
                out.append((p, "missing"))
                continue
            try:
                con.execute("SELECT num_rows FROM parquet_file_metadata($p)", {"p": str(p)}).fetchall()
            except duckdb.Error as exc:
                out.append((p, f"unreadable ({first_line(exc)})"))
    finally:
        con.close()
    return out


def without_damaged(files: dict[str, list[str]]) -> dict[str, list[str]]:
    """The catalog views' files minus damaged ones (warned about), so that the catalog stays usable
    until ``duckpipe doctor --repair``. Never used for a run's own views: a run must not compute on
    part of a unit's data."""
    damaged = set()
    for path, why in damaged_among(p for ps in files.values() for p in ps):
        damaged.add(path)
        log.warning("store file %s is %s; the catalog views leave it out: run 'duckpipe doctor'", path, why)
    return {t: [p for p in ps if p not in damaged] for t, ps in files.items()}


__all__ = ["store_files", "workspace_root", "relative", "absolute", "create_views", "refresh_catalog_views", "heal_views", "view_columns"]
