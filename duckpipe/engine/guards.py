"""Resource guards (SPEC §4): pause *between* batches (never inside a transaction) while other
processes use the CPU, or available memory is short; optional cooling breaks."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psutil

log = logging.getLogger(__name__)


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
