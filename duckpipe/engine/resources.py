"""Memory and spill measured for run_stages and the status file: this process tree's RSS, the
kernel's exact peak (VmHWM, reset per stage) and the size of DuckDB's spill directory."""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import psutil


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
