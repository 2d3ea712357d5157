"""The one place that opens DuckDB: settings applied, workspace lock, error translation.

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
import time
from pathlib import Path
from typing import Any, Iterator

import duckdb
import psutil

from .envcheck import check_catalog_file, check_temp_dir, not_writable, open_failure
from .errors import DuckpipeError, EmptyWorkspace, WorkspaceLocked
from .settings import Settings
from .sqlrender import quote_literal, render, split_statements

log = logging.getLogger(__name__)
LOCK_NAME = "duckpipe.lock"


def configure(con: duckdb.DuckDBPyConnection, *, memory_limit: str, threads: int,
              temp_dir: Path | str) -> None:
    """Apply the settings every heavy connection needs (DuckDB cannot bind SET values)."""
    check_temp_dir(temp_dir)
    con.execute(f"SET memory_limit = {quote_literal(memory_limit)}")
    con.execute(f"SET threads = {int(threads)}")
    con.execute(f"SET temp_directory = {quote_literal(str(temp_dir))}")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET TimeZone = 'UTC'")


def connect_memory(settings: Settings) -> duckdb.DuckDBPyConnection:
    """An in-memory connection with the run's settings (used by executors on the store)."""
    con = duckdb.connect(":memory:")
    configure(con, memory_limit=settings.memory_limit, threads=settings.threads,
              temp_dir=settings.temp_dir)
    return con


class WorkspaceLock:
    """An exclusive, crash-safe lock on a workspace, naming its holder."""

    def __init__(self, workspace: Path, command: str):
        self.path = workspace / LOCK_NAME
        self.command = command
        self._fh = None

    def acquire(self, reader_wait_s: float = 10.0) -> "WorkspaceLock":
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

    def __enter__(self) -> "WorkspaceLock":
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
def open_workspace(settings: Settings, command: str, *, create: bool = True
                   ) -> Iterator[duckdb.DuckDBPyConnection]:
    """Lock the workspace, open ``duckpipe.duckdb`` with the settings, ensure the catalog.

    Only ``ingest`` creates a workspace; other commands on a folder without one say so
    (a mistyped --workspace must not leave an empty workspace behind).
    """
    ws = settings.workspace
    if not create and not settings.db_path.exists():
        raise EmptyWorkspace(f"no workspace database in {ws}: run 'duckpipe ingest' first")
    try:
        ws.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise not_writable(ws, command, exc) from None
    with WorkspaceLock(ws, command):
        try:
            con = duckdb.connect(str(settings.db_path))
        except duckdb.Error as exc:
            raise open_failure(settings.db_path, exc) from None
        try:
            check_catalog_file(con, settings.db_path)
            configure(con, memory_limit=settings.memory_limit, threads=settings.threads,
                      temp_dir=settings.temp_dir)
            ensure_catalog(con)
            from .store import heal_views   # store builds on db; imported late to avoid a cycle
            heal_views(con)                 # a moved workspace: views point at the new folder
            yield con
        finally:
            con.close()


@contextlib.contextmanager
def open_read_only(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the catalog read-only under a shared lock: for status, dry runs and doctor.

    Changes nothing in the workspace; a writer that starts meanwhile waits for us (see acquire).
    """
    if not settings.db_path.exists():
        raise EmptyWorkspace(f"no workspace database in {settings.workspace}: run 'duckpipe ingest' first")
    with _open_lock_file(settings.workspace) as fh:
        try:
            if fh is not None:
                fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            raise WorkspaceLocked(f"{_parse_holder(fh.read())} is using this workspace"
                                  f" ({settings.workspace})") from None
        try:
            con = duckdb.connect(str(settings.db_path), read_only=True)
        except duckdb.Error as exc:
            raise open_failure(settings.db_path, exc) from None
        try:
            check_catalog_file(con, settings.db_path)
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
            fh = open(path, "r")
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


def ensure_catalog(con: duckdb.DuckDBPyConnection) -> None:
    """Create the bookkeeping tables (sql/catalog.sql) when missing: idempotent."""
    for stmt in split_statements(render("catalog.sql")):
        con.execute(stmt)


def run_script(con: duckdb.DuckDBPyConnection, template: str, params: dict[str, Any] | None = None,
               **context: Any) -> None:
    """Render ``template`` and execute each statement, binding ``params`` where named."""
    for stmt in split_statements(render(template, **context)):
        execute(con, stmt, params, template=template)


def execute(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None,
            *, template: str = "", where: str = "") -> duckdb.DuckDBPyConnection:
    """Execute with only the parameters the statement names; translate DuckDB errors."""
    bound = {k: v for k, v in (params or {}).items() if f"${k}" in sql}
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
