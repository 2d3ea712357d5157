"""Progress a user can trust on long work: the live terminal and what ``duckpipe status`` reads.

One rich Console on stderr is shared by every live display and by the log handler, so a log
record prints above the bars, never glued into them (issue 13). Off a terminal, or with -q,
there is no live display: periodic plain log lines instead (the same as ``run``).

Ingest progress inside a file is DuckDB's own estimate of the running query
(``query_progress()``, polled from a thread while the sorted read and the write run), as a
fraction of the file's bytes. Ingest writes the same atomically replaced ``status.json`` as
``run``, with ``command`` = "ingest", so a second terminal can tell which command holds the
workspace and how far it is.
"""
from __future__ import annotations

import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from .resources import own_tree_rss
from .status import RunStatus, StatusFile

log = logging.getLogger(__name__)
_CONSOLE: Console | None = None


def console() -> Console:
    """The process's one stderr Console: live displays and log records go through it."""
    global _CONSOLE
    if _CONSOLE is None:
        _CONSOLE = Console(stderr=True)
    return _CONSOLE


def interactive(quiet: bool = False) -> bool:
    """A live display only on a terminal and without -q."""
    return not quiet and sys.stderr.isatty()


class _CurrentStderr(logging.StreamHandler):
    """A stream handler bound to whatever ``sys.stderr`` is when a record is emitted: a caller
    that swaps stderr and closes its stand-in (an in-process CLI run, a test) must not leave a
    handler writing to a closed file."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def setup_logging(verbose: bool = False, quiet: bool = False) -> None:
    """Log records through the shared Console on a terminal (printed above any live bar),
    else plain ``HH:MM:SS LEVEL message`` lines on stderr."""
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    if sys.stderr.isatty():
        from rich.logging import RichHandler
        handler: logging.Handler = RichHandler(console=console(), show_path=False, markup=False,
                                               rich_tracebacks=False, log_time_format="%H:%M:%S",
                                               omit_repeated_times=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = _CurrentStderr()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    logging.basicConfig(level=level, handlers=[handler], force=True)


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def _secs(s: float | None) -> str:
    if s is None:
        return "?"
    s = int(round(s))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class _EtaColumn(ProgressColumn):
    """Time left of the whole command, from an absolute estimate (``eta_at``, monotonic)."""

    def render(self, task) -> Text:
        eta_at = task.fields.get("eta_at")
        left = None if eta_at is None else max(0.0, eta_at - time.monotonic())
        return Text(f"eta {_secs(left)}" if task.fields.get("show_eta", True) else "", style="cyan")


# ------------------------------------------------------------------ ingest

@dataclass
class IngestStatus:
    """What ``duckpipe status`` shows during and after an ingest; written as JSON."""

    pid: int
    state: str                 # running | finished | failed | interrupted
    started_at: float
    files_total: int
    bytes_total: int
    command: str = "ingest"
    files_done: int = 0
    files_failed: int = 0
    file_index: int = 0        # 1-based position of the file being read
    file: str = ""             # its path
    file_bytes: int = 0
    file_bytes_done: int = 0   # DuckDB's query progress x the file's size
    bytes_done: int = 0        # of the whole input (skipped unchanged files count as done)
    mb_per_s: float = 0.0      # bytes read this command / elapsed
    eta_s: float | None = None
    rows_loaded: int = 0
    elapsed_s: float = 0.0
    rss_bytes: int = 0
    updated_at: float = field(default_factory=time.time)


class IngestWatcher:
    """Per-file and whole-input progress of one ingest: status file, live bars or log lines."""

    def __init__(self, workspace: Path, quiet: bool = False, every_s: float = 10.0, poll_s: float = 0.25):
        self.status_file = StatusFile(workspace)
        self.quiet, self.every_s, self.poll_s = quiet, every_s, poll_s
        self.st: IngestStatus | None = None
        self._t0 = time.monotonic()
        self._worked = 0           # bytes of files actually read (not skipped), for the rate
        self._last_log = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._con: Any = None
        self._bar: Progress | None = None
        self._lock = threading.Lock()

    # called by duckpipe.ingest.ingest
    def begin(self, con: Any, files: list[Path]) -> None:
        sizes = [_size(p) for p in files]
        self._sizes = sizes
        self._paths = [Path(p) for p in files]
        self.st = IngestStatus(os.getpid(), "running", time.time(), len(files), sum(sizes))
        self._con = con
        try:                       # DuckDB computes query progress only with its progress bar on
            con.execute("SET enable_progress_bar = true")
            con.execute("SET enable_progress_bar_print = false")
        except Exception:  # noqa: BLE001 - progress is a nicety, never a reason to fail
            self._con = None
        if interactive(self.quiet):
            self._bar = Progress(TextColumn("{task.description}"), BarColumn(bar_width=30),
                                 TextColumn("{task.percentage:>5.1f}%"), TextColumn("{task.fields[info]}"),
                                 TimeElapsedColumn(), _EtaColumn(), console=console(), transient=False)
            self._file_task = self._bar.add_task("file", total=1, info="", show_eta=False)
            self._all_task = self._bar.add_task("all input", total=max(1, self.st.bytes_total), info="",
                                                eta_at=None)
            self._bar.start()
        self._write(force=True)

    def file_started(self, index: int, path: Path) -> None:
        st = self.st
        st.file_index, st.file, st.file_bytes, st.file_bytes_done = index, str(path), self._sizes[index - 1], 0
        if self._bar is not None:
            self._bar.reset(self._file_task, total=max(1, st.file_bytes))
        self._refresh(force=True)
        self._stop.clear()
        self._thread = threading.Thread(target=self._poll, name="duckpipe-ingest-progress", daemon=True)
        self._thread.start()

    def file_done(self, index: int, path: Path, status: str, rows_loaded: int) -> None:
        self._stop_poll()
        st = self.st
        size = self._sizes[index - 1]
        with self._lock:
            st.files_done = index
            st.files_failed += status == "failed"
            st.rows_loaded += rows_loaded
            st.file_bytes_done = size
            if status != "skipped_unchanged":
                self._worked += size
            st.bytes_done = sum(self._sizes[:index])
        self._refresh(force=True)

    def file_committed(self, path: Path, status: str, rows_loaded: int) -> None:
        """A file loaded elsewhere (``--executor dask``): files finish in any order, several at once.
        The finished files' sizes are kept first, so that the totals stay prefix sums."""
        st = self.st
        with self._lock:
            paths = self._paths
            i, j = st.files_done, paths.index(Path(path), st.files_done)
            paths[i], paths[j] = paths[j], paths[i]
            self._sizes[i], self._sizes[j] = self._sizes[j], self._sizes[i]
            st.files_done = st.file_index = i + 1
            st.file, st.file_bytes = str(path), self._sizes[i]
            st.file_bytes_done = st.file_bytes
            st.files_failed += status == "failed"
            st.rows_loaded += rows_loaded
            if status != "skipped_unchanged":
                self._worked += self._sizes[i]
        self._refresh(force=True)

    def finish(self, state: str) -> None:
        self._stop_poll()
        if self.st is None:
            return
        self.st.state = state
        self.st.file_bytes_done = self.st.file_bytes if state == "finished" else self.st.file_bytes_done
        self._refresh(force=True)
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    # internals
    def _stop_poll(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_s):
            fraction = self._query_fraction()
            if fraction is not None:
                with self._lock:
                    done = int(fraction * self.st.file_bytes)
                    self.st.file_bytes_done = max(self.st.file_bytes_done, done)   # never backwards
            self._refresh()

    def _query_fraction(self) -> float | None:
        if self._con is None:
            return None
        try:
            pct = self._con.query_progress()
        except Exception:  # noqa: BLE001 - no query running, or a closed connection
            return None
        return min(1.0, pct / 100.0) if pct is not None and pct >= 0 else None

    def _refresh(self, force: bool = False) -> None:
        st = self.st
        with self._lock:
            elapsed = time.monotonic() - self._t0
            in_file = st.file_bytes_done if st.files_done < st.file_index else 0
            st.bytes_done = sum(self._sizes[:st.files_done]) + in_file
            worked = self._worked + in_file
            st.elapsed_s = elapsed
            st.mb_per_s = worked / 1e6 / elapsed if elapsed > 0 else 0.0
            left = st.bytes_total - st.bytes_done
            st.eta_s = left / (worked / elapsed) if worked and elapsed > 0 else (0.0 if not left else None)
            st.rss_bytes = own_tree_rss()
        self._write(force)
        name = Path(st.file).name
        if self._bar is not None:
            self._bar.update(self._file_task, completed=st.file_bytes_done,
                             description=f"file {st.file_index}/{st.files_total}",
                             info=f"{_mb(st.file_bytes_done)} of {_mb(st.file_bytes)}  {name}")
            self._bar.update(self._all_task, completed=st.bytes_done,
                             info=f"{_mb(st.bytes_done)} of {_mb(st.bytes_total)}  {st.mb_per_s:,.1f} MB/s",
                             eta_at=None if st.eta_s is None else time.monotonic() + st.eta_s)
        elif not self.quiet and (time.monotonic() - self._last_log >= self.every_s):
            self._last_log = time.monotonic()
            log.info("ingest: file %d/%d %s %s of %s; all input %s of %s, %.1f MB/s, eta %s",
                     st.file_index, st.files_total, name, _mb(st.file_bytes_done), _mb(st.file_bytes),
                     _mb(st.bytes_done), _mb(st.bytes_total), st.mb_per_s, _secs(st.eta_s))

    def _write(self, force: bool = False) -> None:
        self.st.updated_at = time.time()
        self.status_file.write(self.st, throttle=not force)


def _size(p: Path) -> int:
    try:
        return p.stat().st_size
    except OSError:
        return 0


# ------------------------------------------------------------------ run

class RunDisplay:
    """The whole ``run`` command: a units bar, then each stage with its name and elapsed time, and a
    last row with the elapsed time and ETA of the whole command (units and the stages after them).
    Off a terminal: periodic log lines and one line per stage."""

    def __init__(self, quiet: bool = False, every_s: float = 10.0):
        self.quiet, self.every_s = quiet, every_s
        self._last = 0.0
        self._bar: Progress | None = None
        if interactive(quiet):
            self._bar = Progress(TextColumn("{task.description:<16}"), BarColumn(bar_width=30),
                                 TextColumn("{task.fields[count]}"), TimeElapsedColumn(), _EtaColumn(),
                                 TextColumn("{task.fields[info]}"), console=console(), transient=False)
            self._units = self._bar.add_task("units", total=None, count="", info="", show_eta=False)
            self._stage = self._bar.add_task("stage units", total=None, count="", info="", show_eta=False)
            self._cmd = self._bar.add_task("whole command", total=None, count="", info="", eta_at=None)
            self._bar.start()

    def update(self, st) -> None:
        """After each batch (and on a pause): units done, rates, whole-command ETA."""
        info = (f"{st.rows_per_s:,.0f} input rows/s  rss {st.rss_bytes / 2**20:,.0f} MB  cpu {st.cpu_percent:.0f}%"
                + (f"  PAUSED: {st.paused}" if st.paused else ""))
        finished = st.units_done + st.units_failed
        if self._bar is not None:
            self._bar.update(self._units, total=max(1, st.units_total), completed=finished,
                             count=f"{finished}/{st.units_total}", info=info)
            self._bar.update(self._cmd, eta_at=None if st.eta_s is None else time.monotonic() + st.eta_s)
        elif not self.quiet and (time.monotonic() - self._last >= self.every_s or st.paused
                                 or finished == st.units_total):
            self._last = time.monotonic()
            log.info("units %d/%d (failed %d)  elapsed %s  eta %s  %s", st.units_done, st.units_total,
                     st.units_failed, _secs(st.elapsed_s), _secs(st.eta_s), info)

    def stage(self, name: str, eta_s: float | None) -> None:
        """A stage starts: its name and a clock on the second line; the command's ETA when known."""
        if self._bar is not None:
            self._bar.reset(self._stage, total=None, description=f"stage {name}", count="", info="",
                            show_eta=False)
            if name != "units":
                self._bar.update(self._cmd, eta_at=None if eta_s is None else time.monotonic() + eta_s)
        elif not self.quiet and name != "units":
            log.info("stage %s started", name)

    def step(self, template: str) -> None:
        """The SQL template a stage is running now (named beside the stage's clock)."""
        if self._bar is not None:
            self._bar.update(self._stage, info=template)
        elif not self.quiet:
            log.debug("step %s", template)

    def stage_done(self, name: str, seconds: float, rows: int) -> None:
        if not self.quiet:
            log.info("stage %s done in %.1fs (%s rows)", name, seconds, f"{rows:,}")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


# ------------------------------------------------------------------ duckpipe status

def describe(status: dict | None, holder: dict | None, now: float | None = None) -> list[str]:
    """Lines of ``duckpipe status`` for the command holding the workspace (``holder``: the lock's
    pid and command) from its status file; a holder that publishes no progress is named."""
    now = time.time() if now is None else now
    s = status or {}
    pid = (holder or {}).get("pid")
    if not s or (pid is not None and s.get("pid") != pid):
        what = (holder or {}).get("command", "duckpipe command")
        return [f"a {what} (pid {pid if pid is not None else '?'}) holds the workspace; it publishes no progress"]
    age = max(0.0, now - s.get("updated_at", now))
    eta = s.get("eta_s")
    eta = None if eta is None else max(0.0, eta - age)
    elapsed = s.get("elapsed_s", 0.0) + age
    if s.get("command") == "ingest":
        return _describe_ingest(s, eta, elapsed)
    return _describe_run(s, eta, elapsed, now)


def _pct(done: float, total: float) -> str:
    return f"{100.0 * done / total:.1f}%" if total else "100.0%"


def _describe_ingest(s: dict, eta: float | None, elapsed: float) -> list[str]:
    lines = [f"ingest (pid {s['pid']}) is {s['state']}: file {s['file_index']} of {s['files_total']},"
             f" {Path(s['file']).name}: {_mb(s['file_bytes_done'])} of {_mb(s['file_bytes'])}"
             f" ({_pct(s['file_bytes_done'], s['file_bytes'])}) of this file; all input {_mb(s['bytes_done'])}"
             f" of {_mb(s['bytes_total'])} ({_pct(s['bytes_done'], s['bytes_total'])}), {s['mb_per_s']:,.1f} MB/s,"
             f" elapsed {_secs(elapsed)}, eta {_secs(eta)}, memory {s.get('rss_bytes', 0) / 2**20:,.0f} MB"]
    lines.append(f"  now: {s['file']}")
    return lines


def _describe_run(s: dict, eta: float | None, elapsed: float, now: float) -> list[str]:
    total = s.get("units_total") or 0
    finished = s.get("units_done", 0) + s.get("units_failed", 0)
    lines = [f"run {s.get('run_id', '?')} (pid {s.get('pid', '?')}) is {s.get('state', 'running')}:"
             f" {s.get('units_done', 0)}/{total} units done ({_pct(finished, total)}), {s.get('units_failed', 0)} failed,"
             f" batch {s.get('batches_done', 0)}/{s.get('batches_total', '?')}, {s.get('rows_per_s', 0):,.0f} input rows/s,"
             f" elapsed {_secs(elapsed)}, eta {_secs(eta)}, memory {s.get('rss_bytes', 0) / 2**20:,.0f} MB"]
    if s.get("stage"):
        lines.append(f"  stage: {s['stage']} ({_secs(now - s.get('stage_started_at', now))})")
    if s.get("current"):
        lines.append(f"  now: {s['current']}")
    if s.get("paused"):
        lines.append(f"  PAUSED: {s['paused']}")
    return lines


def describe_last(status: dict | None) -> list[str]:
    """The last command's outcome from the status file it left (nothing holds the workspace)."""
    s = status or {}
    if s.get("command") != "ingest":
        return []
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(s.get("updated_at", 0)))
    state = "killed" if s["state"] == "running" else s["state"]     # it left no final word
    return [f"last ingest: {state} at {when}: {s['files_done']} of {s['files_total']} files"
            f" ({s['files_failed']} failed), {_mb(s['bytes_done'])}, {s['rows_loaded']:,} rows loaded"
            f" in {_secs(s['elapsed_s'])}"]


class Display:
    """A rich progress bar on a terminal; plain log lines every ``every_s`` otherwise."""

    def __init__(self, total: int, quiet: bool = False, every_s: float = 10.0):
        self.total, self.quiet, self.every_s = total, quiet, every_s
        self._last = 0.0
        self._progress = None
        if not quiet and sys.stderr.isatty():
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
            self._progress = Progress(TextColumn("[bold]units"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                                      TimeRemainingColumn(), TextColumn("{task.fields[info]}"), transient=False)
            self._task = self._progress.add_task("run", total=total, info="")
            self._progress.start()

    def update(self, st: RunStatus) -> None:
        info = (f"{st.rows_per_s:,.0f} input rows/s  rss {st.rss_bytes / 2**20:,.0f} MB  cpu {st.cpu_percent:.0f}%"
                + (f"  workers {len(st.workers)}" if st.workers else "")
                + (f"  PAUSED: {st.paused}" if st.paused else ""))
        if self._progress is not None:
            self._progress.update(self._task, completed=st.units_done + st.units_failed, info=info)
        elif not self.quiet and (time.monotonic() - self._last >= self.every_s or st.paused
                                 or st.units_done + st.units_failed == self.total):
            self._last = time.monotonic()
            eta = f"{st.eta_s:,.0f}s" if st.eta_s is not None else "?"
            log.info("units %d/%d (failed %d)  eta %s  %s", st.units_done, self.total, st.units_failed, eta, info)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
