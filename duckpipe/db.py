"""The bottom layer: open and configure DuckDB, lock a workspace, execute, transactions.

It knows no table and no template (the catalog module owns the bookkeeping DDL); it imports
nothing of duckpipe but :mod:`errors`.

DuckDB lets no other process open a database file while one has it open for writing, so
every command that opens ``duckpipe.duckdb`` first takes an ``fcntl`` lock on
``duckpipe.lock`` and writes its pid and command there. A second command gets a message
naming the holder instead of a DuckDB error. The kernel drops the lock when a process dies,
even by SIGKILL, so a stale lock never blocks a rerun.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import psutil

from .envcheck import check_catalog_file, check_temp_dir, not_writable, open_failure
from .errors import DuckpipeError, EmptyWorkspace, WorkspaceLocked

log = logging.getLogger(__name__)
LOCK_NAME = "duckpipe.lock"
DB_NAME = "duckpipe.duckdb"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")     # $name: whole names ($scenario_1 is not $scenario_10)


def quote_literal(value: Any) -> str:
    """Render a Python value as a SQL literal (strings single-quoted, quotes doubled)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"cannot render {value!r} as a SQL literal")
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(quote_literal(v) for v in value) + "]"
    text = str(value)
    if "\x00" in text:
        raise ValueError("NUL byte in SQL literal")
    return "'" + text.replace("'", "''") + "'"


def quote_ident(name: str) -> str:
    """Double-quote an identifier after checking it is a plain name (no injection by name)."""
    if not isinstance(name, str) or not _IDENT.match(name):
        raise ValueError(f"not a valid identifier: {name!r}")
    return '"' + name + '"'


def configure(con: duckdb.DuckDBPyConnection, *, memory_limit: str, threads: int,
              temp_dir: Path | str) -> None:
    """Apply the settings every heavy connection needs (DuckDB cannot bind SET values)."""
    check_temp_dir(temp_dir)
    con.execute(f"SET memory_limit = {quote_literal(memory_limit)}")
    con.execute(f"SET threads = {int(threads)}")
    con.execute(f"SET temp_directory = {quote_literal(str(temp_dir))}")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET TimeZone = 'UTC'")


def connect_memory(*, memory_limit: str, threads: int, temp_dir: Path | str) -> duckdb.DuckDBPyConnection:
    """An in-memory connection with the run's settings (used by executors on the store)."""
    con = duckdb.connect(":memory:")
    configure(con, memory_limit=memory_limit, threads=threads, temp_dir=temp_dir)
    return con


class WorkspaceLock:
    """An exclusive, crash-safe lock on a workspace, naming its holder."""

    def __init__(self, workspace: Path, command: str):
        self.path = workspace / LOCK_NAME
        self.command = command
        self._fh = None

    def acquire(self, reader_wait_s: float = 10.0) -> WorkspaceLock:
        """Take the lock; wait for short-lived readers (status, dry run), fail at once for a writer."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fh = open(self.path, "a+")
        except OSError as exc:
            raise not_writable(self.path.parent, self.command, exc) from None
        deadline = time.monotonic() + reader_wait_s
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                fh.seek(0)
                text = fh.read()
                if not _writer_alive(text) and time.monotonic() < deadline:   # readers write no holder
                    time.sleep(0.05)
                    continue
                fh.close()
                raise WorkspaceLocked(
                    f"{_parse_holder(text)} is using this workspace ({self.path.parent}); wait for it to"
                    " finish or use 'duckpipe status' to watch it") from None
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps({"pid": os.getpid(), "command": self.command}))
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        if self._fh is not None:
            self._fh.seek(0)
            self._fh.truncate()     # an empty file while locked means: only readers
            self._fh.flush()
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

    def __enter__(self) -> WorkspaceLock:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


def _writer_alive(text: str) -> bool:
    """Whether the lock file names a live writer (a SIGKILLed one leaves its pid behind)."""
    try:
        return psutil.pid_exists(int(json.loads(text)["pid"]))
    except (ValueError, KeyError, TypeError):
        return False


def _parse_holder(text: str) -> str:
    """'a run (pid 1234)' from the lock file's JSON."""
    try:
        info = json.loads(text)
        return f"a {info.get('command', 'duckpipe command')} (pid {info.get('pid', '?')})"
    except (ValueError, AttributeError):
        return "another duckpipe process"


@contextlib.contextmanager
def locked_connection(workspace: Path, command: str, *, memory_limit: str, threads: int,
                      temp_dir: Path | str, create: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
    """Lock the workspace and open ``duckpipe.duckdb`` in it, configured.

    Only ``ingest`` creates a workspace; other commands on a folder without one say so
    (a mistyped --workspace must not leave an empty workspace behind).
    """
    db_path = workspace / DB_NAME
    if not create and not db_path.exists():
        raise EmptyWorkspace(f"no workspace database in {workspace}: run 'duckpipe ingest' first")
    try:
        workspace.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise not_writable(workspace, command, exc) from None
    with WorkspaceLock(workspace, command):
        try:
            con = duckdb.connect(str(db_path))
        except duckdb.Error as exc:
            raise open_failure(db_path, exc) from None
        try:
            check_catalog_file(con, db_path)
            configure(con, memory_limit=memory_limit, threads=threads, temp_dir=temp_dir)
            yield con
        finally:
            con.close()


@contextlib.contextmanager
def open_read_only(workspace: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the catalog read-only under a shared lock: for status, dry runs and doctor.

    Changes nothing in the workspace; a writer that starts meanwhile waits for us (see acquire).
    """
    db_path = workspace / DB_NAME
    if not db_path.exists():
        raise EmptyWorkspace(f"no workspace database in {workspace}: run 'duckpipe ingest' first")
    with _open_lock_file(workspace) as fh:
        try:
            if fh is not None:
                fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            raise WorkspaceLocked(f"{_parse_holder(fh.read())} is using this workspace"
                                  f" ({workspace})") from None
        try:
            con = duckdb.connect(str(db_path), read_only=True)
        except duckdb.Error as exc:
            raise open_failure(db_path, exc) from None
        try:
            check_catalog_file(con, db_path)
            yield con
        finally:
            con.close()


@contextlib.contextmanager
def _open_lock_file(workspace: Path) -> Iterator[Any]:
    """The lock file for a shared lock; read-only when the workspace cannot be written (no
    writer can work there either), None when it cannot be created there at all."""
    path = workspace / LOCK_NAME
    try:
        fh = open(path, "a+")
    except OSError:
        try:
            fh = open(path)
        except OSError:
            fh = None
    try:
        yield fh
    finally:
        if fh is not None:
            fh.close()


def writer_active(workspace: Path) -> bool:
    """Whether a duckpipe command holds the workspace for writing right now."""
    path = workspace / LOCK_NAME
    if not path.exists():
        return False
    with _open_lock_file(workspace) as fh:
        if fh is None:
            return False
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
        return False


def writer_info(workspace: Path) -> dict[str, Any] | None:
    """The pid and command of the duckpipe command holding the workspace for writing, else None."""
    if not writer_active(workspace):
        return None
    try:
        info = json.loads((workspace / LOCK_NAME).read_text())
        return info if isinstance(info, dict) else {}
    except (OSError, ValueError):
        return {}


_TEMPLATE_OBSERVERS: list[Any] = []


@contextlib.contextmanager
def observe_templates(fn: Any) -> Iterator[None]:
    """Call ``fn(template)`` before each statement :func:`execute` runs for a template, so that
    progress can name the step of a long stage (the aggregation, the statistics)."""
    _TEMPLATE_OBSERVERS.append(fn)
    try:
        yield
    finally:
        _TEMPLATE_OBSERVERS.remove(fn)


def execute(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None,
            *, template: str = "", where: str = "") -> duckdb.DuckDBPyConnection:
    """Execute with only the parameters the statement names; translate DuckDB errors."""
    for observe in _TEMPLATE_OBSERVERS if template else ():
        observe(template)
    named = set(_PARAM.findall(sql))
    bound = {k: v for k, v in (params or {}).items() if k in named}
    try:
        return con.execute(sql, bound) if bound else con.execute(sql)
    except duckdb.InterruptException:
        raise
    except duckdb.Error as exc:
        log.debug("failed SQL (%s):\n%s", template, sql)
        detail = " ".join(x for x in (template and f"template {template}", where) if x)
        raise QueryError(f"{detail + ': ' if detail else ''}{type(exc).__name__}: {exc}") from exc


class QueryError(DuckpipeError):
    """A DuckDB error with the template and unit it happened in."""

    exit_code = 1


def is_interrupt(exc: BaseException) -> bool:
    """Whether ``exc`` is DuckDB reporting a query stopped by Ctrl-C (SIGINT during a query)."""
    return isinstance(exc, duckdb.InterruptException) or (
        isinstance(exc, RuntimeError) and "Query interrupted" in str(exc))


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN ... COMMIT, rolled back on any exception (including KeyboardInterrupt)."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
