"""Watching a run: the status file, the resource guards and the live display (SPEC §4).

``status.json`` is replaced atomically after every batch so that ``duckpipe status`` can read
it from a second terminal while the run holds the database. Guards pause *between* batches
(never inside a transaction) while other processes use the CPU or memory is short.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

log = logging.getLogger(__name__)
STATUS_NAME = "status.json"


def own_tree_rss() -> int:
    """RSS of this process and its children (bytes)."""
    me = psutil.Process()
    total = me.memory_info().rss
    for child in me.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.Error:
            pass
    return total


def dir_bytes(path: Path | None) -> int:
    """Bytes of the files under ``path`` (DuckDB's spill files in the temp directory)."""
    total = 0
    if path is not None:
        for entry in os.scandir(path) if path.is_dir() else ():
            try:
                total += entry.stat().st_size if entry.is_file() else dir_bytes(Path(entry.path))
            except OSError:
                pass
    return total


def _high_water_mark() -> int:
    """The kernel's exact peak RSS of this process since the last reset (Linux VmHWM), else 0."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _reset_high_water_mark() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")          # Linux >= 4.0: reset VmHWM to the current RSS
    except OSError:
        pass


class PeakSampler:
    """Samples RSS of the process tree and the size of the spill directory in a thread.

    The peak is the larger of the samples and the kernel's high-water mark (which catches
    spikes between samples); both are reset at the start of each stage.

    DuckDB keeps no cumulative spill counter and deletes its temp files after each query, so
    the peak size of ``spill_dir`` over a stage is what ``run_stages.spilled_bytes`` reports.
    """

    def __init__(self, interval: float = 0.1, spill_dir: Path | None = None):
        self.interval, self.spill_dir = interval, spill_dir
        _reset_high_water_mark()
        self._sampled = own_tree_rss()
        self._earlier = 0          # peak of the stages before the last reset
        self.peak_spill = dir_bytes(spill_dir)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    @property
    def peak(self) -> int:
        """Peak RSS since the last reset (the current stage)."""
        return max(self._sampled, _high_water_mark())

    @property
    def overall(self) -> int:
        """Peak RSS since the sampler started (the whole run)."""
        return max(self._earlier, self.peak)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sampled = max(self._sampled, own_tree_rss())
            self.peak_spill = max(self.peak_spill, dir_bytes(self.spill_dir))

    def reset(self) -> int:
        self._earlier = self.overall
        _reset_high_water_mark()
        current = own_tree_rss()
        self._sampled, self.peak_spill = current, dir_bytes(self.spill_dir)
        return current

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=1)
        self._sampled = max(self._sampled, own_tree_rss())


@dataclass
class RunStatus:
    """What ``duckpipe status`` shows; written as JSON."""

    run_id: str
    pid: int
    state: str                 # running | paused | finished | failed | interrupted
    started_at: float
    units_total: int
    units_done: int = 0
    units_failed: int = 0
    batches_total: int = 0
    batches_done: int = 0
    current: str = ""
    rows: int = 0
    rows_per_s: float = 0.0    # input rows (orders, trades, quotes) of the finished units per second
    eta_s: float | None = None
    rss_bytes: int = 0
    cpu_percent: float = 0.0
    paused: str = ""
    strategy: str = ""
    workers: dict[str, int] = field(default_factory=dict)   # units committed per Dask worker address
    updated_at: float = field(default_factory=time.time)
    command: str = "run"
    stage: str = ""            # units, then each finalize stage (aggregate, stats)
    stage_started_at: float = 0.0
    elapsed_s: float = 0.0     # of the whole command; eta_s covers the whole command too


class StatusFile:
    def __init__(self, workspace: Path, min_interval_s: float = 0.5):
        self.path = workspace / STATUS_NAME
        self.min_interval_s = min_interval_s
        self._last = 0.0

    def write(self, status: RunStatus, throttle: bool = False) -> None:
        """Replace the file atomically; with ``throttle``, at most every ``min_interval_s``."""
        now = time.monotonic()
        if throttle and now - self._last < self.min_interval_s:
            return
        self._last = now
        status.updated_at = time.time()
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(asdict(status)))
        os.replace(tmp, self.path)

    def read(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None


@dataclass
class GuardConfig:
    max_cpu: float = 85.0          # % of all cores used by OTHER processes
    resume_cpu: float = 40.0
    sustain_s: float = 300.0
    min_available_ratio: float = 0.10
    cool_every: int = 0            # batches; 0 = off
    cool_seconds: float = 0.0
    poll_s: float = 5.0
    check_every_s: float = 1.0     # sample CPU and memory at most this often (psutil is not free)


class Guards:
    """Pause between batches while others hog the CPU, memory is short, or a cooling break is due."""

    def __init__(self, cfg: GuardConfig, on_pause: Callable[[str], None] = lambda reason: None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], Any] | None = None):
        self.stop = threading.Event()      # set on Ctrl-C: a pause ends at once
        self.cfg, self.on_pause, self.clock = cfg, on_pause, clock
        self.sleep = sleep or self.stop.wait
        self._high_since: float | None = None
        self._batches = 0
        self._checked = float("-inf")
        self.pauses: list[tuple[str, float]] = []
        psutil.cpu_percent(None)
        self._own = psutil.Process()
        self._own.cpu_percent(None)

    def other_cpu(self) -> float:
        """System CPU % minus this process tree's, both as % of all cores."""
        system = psutil.cpu_percent(None)
        ncpu = psutil.cpu_count() or 1
        own = self._own.cpu_percent(None)
        for child in self._own.children(recursive=True):
            try:
                own += child.cpu_percent(None)
            except psutil.Error:
                pass
        return max(0.0, system - own / ncpu)

    def memory_short(self) -> bool:
        vm = psutil.virtual_memory()
        return vm.available / vm.total < self.cfg.min_available_ratio

    def between_batches(self) -> None:
        self._batches += 1
        cfg = self.cfg
        now = self.clock()
        if not (cfg.cool_every and self._batches % cfg.cool_every == 0) and now - self._checked < cfg.check_every_s:
            return
        self._checked = now
        if cfg.cool_every and self._batches % cfg.cool_every == 0 and cfg.cool_seconds > 0:
            self._pause(f"cooling break every {cfg.cool_every} batches", lambda: False, cfg.cool_seconds)
        if self.memory_short():
            self._pause("available memory under 10%", self.memory_short, None)
        if self.other_cpu() > cfg.max_cpu:
            self._high_since = self._high_since if self._high_since is not None else now
            if now - self._high_since >= cfg.sustain_s:
                self._pause(f"other processes use over {cfg.max_cpu:.0f}% CPU",
                            lambda: self.other_cpu() > cfg.resume_cpu, None)
                self._high_since = None
        else:
            self._high_since = None

    def _pause(self, reason: str, still: Callable[[], bool], fixed: float | None) -> None:
        log.warning("pausing: %s", reason)
        self.on_pause(reason)
        start = self.clock()
        if fixed is not None:
            self.sleep(fixed)
        else:
            while still() and not self.stop.is_set():
                self.sleep(self.cfg.poll_s)
        waited = self.clock() - start
        self.pauses.append((reason, waited))
        log.warning("resuming after %.0f s (%s)", waited, reason)
        self.on_pause("")


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
