"""Environment faults turned into one clear line (issue 12): a workspace that cannot be written,
a temp directory that is not a usable folder, a truncated catalog file.

Every check names the path, says what is wrong and what to do, and raises
:class:`~duckpipe.errors.EnvironmentFault` (exit 2) instead of letting an ``OSError`` or a
DuckDB ``IOException`` surface as "Unexpected error ... This is a bug".
"""
from __future__ import annotations

import errno
import os
from pathlib import Path

import duckdb

from .errors import EnvironmentFault

DUCKDB_HEADER_BYTES = 3 * 4096      # DuckDB's file header + two database headers, before the blocks


def describe(exc: OSError) -> str:
    """'Read-only file system' for an OSError (its strerror, or its text)."""
    return exc.strerror or str(exc)


def not_writable(workspace: Path, command: str, exc: OSError) -> EnvironmentFault:
    """The workspace folder cannot be written (read-only mount, permissions, a file in the way)."""
    if exc.errno in (errno.ENOTDIR, errno.EEXIST) or (workspace.exists() and not workspace.is_dir()):
        return EnvironmentFault(f"workspace {workspace} is not a folder ({describe(exc)}: {exc.filename});"
                                " give --workspace a folder")
    return EnvironmentFault(
        f"workspace {workspace} is not writable ({describe(exc)}: {exc.filename}): '{command}' writes"
        " duckpipe.lock and duckpipe.duckdb there; use a writable copy of the folder ('status' and"
        " 'doctor' also work read-only)")


def check_temp_dir(temp_dir: Path | str) -> Path:
    """Create the spill folder when missing; refuse a file, a missing parent or a read-only folder."""
    p = Path(temp_dir)
    how = "give --temp-dir (or DUCKPIPE_TEMP_DIR, [settings] temp_dir) a writable folder"
    if p.exists() and not p.is_dir():
        raise EnvironmentFault(f"temp directory {p} is a file, not a folder; {how}")
    if not p.exists():
        parent = p.parent
        if not parent.is_dir():
            raise EnvironmentFault(f"temp directory {p}: its parent folder {parent} does not exist"
                                   f"{' (it is a file)' if parent.exists() else ''}; {how}")
        try:
            p.mkdir()
        except FileExistsError:
            pass                                    # made meanwhile by another process
        except OSError as exc:
            raise EnvironmentFault(f"temp directory {p} cannot be created ({describe(exc)}); {how}") from None
    if not os.access(p, os.W_OK | os.X_OK):
        raise EnvironmentFault(f"temp directory {p} is not writable; {how}")
    return p


def check_catalog_file(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Refuse a truncated ``duckpipe.duckdb``: shorter than the blocks in use its header counts.

    Such a file opens, and may even answer a few queries from its first blocks, before reads
    fail (or, worse, return nothing): ingest would then skip every input as unchanged.
    Only *used* blocks count: free blocks may lie past the end of a healthy file (DuckDB
    truncates the file at a checkpoint but keeps counting them), so a cut that removes only
    free blocks goes unnoticed, and harmlessly so.
    """
    try:
        row = con.execute("SELECT block_size, used_blocks FROM pragma_database_size()"
                          " WHERE database_name = current_database()").fetchall()
    except duckdb.Error as exc:
        raise damaged_catalog(path, str(exc).splitlines()[0]) from None
    if not row:
        return
    block_size, used_blocks = (int(v or 0) for v in row[0])
    need = DUCKDB_HEADER_BYTES + block_size * used_blocks if used_blocks else 0
    size = path.stat().st_size
    if size < need:
        raise damaged_catalog(path, f"truncated: {size:,} bytes, its blocks in use need {need:,}")


def open_failure(path: Path, exc: duckdb.Error) -> EnvironmentFault:
    """DuckDB could not open the catalog: held by another (non-duckpipe) program, or damaged."""
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "lock" in first.lower():
        return EnvironmentFault(f"cannot open {path}: another program holds it ({first}); close it and retry")
    return damaged_catalog(path, first)


def damaged_catalog(path: Path, why: str) -> EnvironmentFault:
    return EnvironmentFault(
        f"the workspace database {path} is damaged ({why}); restore it from a backup, or move it"
        " away and run 'duckpipe ingest' with your sources to rebuild the catalog (then 'duckpipe run'"
        " recomputes the results)")


__all__ = ["check_temp_dir", "check_catalog_file", "not_writable", "damaged_catalog", "open_failure", "describe",
           "DUCKDB_HEADER_BYTES"]
