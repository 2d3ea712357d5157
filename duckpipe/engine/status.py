"""``status.json``: a run's (or an ingest's) progress, replaced atomically so that ``duckpipe
status`` can read it from a second terminal while the command holds the database (SPEC §1, §4)."""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STATUS_NAME = "status.json"


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
