"""The unit engine: plan batches, compute them through an executor, commit exactly once.

Ordering constraints of a batch (SPEC §4):
1. mark its units ``running`` (committed: evidence if this process dies);
2. compute the results and write them as Parquet files under ``results/`` (executor; no
   catalog writes; the files are invisible until committed);
3. ONE transaction: swap the units' entries in the results manifest (``result_files``) for
   the new files and write the checkpoint rows (done, signature, timings, run id, worker). A
   kill before this commit leaves the units ``running`` = failed on the next start, their old
   rows untouched and the new files orphans (deleted by the next run); after it, done.
A failing batch is retried unit by unit; a failing unit is marked failed and the run goes on.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import duckdb
import psutil

from .. import db, results, store
from ..analysis import pipelines
from ..settings import Settings
from . import runs
from . import units as checkpoint
from .executor import BatchJob, BatchOutput
from .planning import Plan
from .progress import Display, Guards, PeakSampler, RunStatus, StatusFile, own_tree_rss
from .units import Unit

log = logging.getLogger(__name__)
@dataclass
class StageTimer:
    name: str
    started: float = field(default_factory=time.time)
    rows: int = 0


@dataclass
class RunResult:
    run_id: str
    strategy: str
    reason: str
    selected: int
    done: int
    failed: list[tuple[Unit, str]]
    seconds: float
    peak_rss_bytes: int
    finalize_rows: dict[str, int] = field(default_factory=dict)
    interrupted: bool = False


class Engine:
    """One run: owns the catalog connection (locked by the caller), an executor and the guards."""

    def __init__(self, con: duckdb.DuckDBPyConnection, settings: Settings, pipe: pipelines.Pipeline,
                 executor, run_id: str, guards: Guards, status: StatusFile, quiet: bool = False):
        self.con, self.settings, self.pipe, self.executor = con, settings, pipe, executor
        self.run_id, self.guards, self.status_file, self.quiet = run_id, guards, status, quiet
        self.sampler: PeakSampler | None = None
        self.status: RunStatus | None = None
        self.failed: list[tuple[Unit, str]] = []
        self.done = 0
        self.step_seconds: dict[str, float] = defaultdict(float)
        self._proc = psutil.Process()
        self._proc.cpu_percent(None)       # the first reading only starts the measurement
        self._files: dict[str, list[tuple[dt.date | None, str]]] | None = None   # the store, listed once
        self.root = store.workspace_root(con)
        self.peak_batch_rss = 0

    # ---------------------------------------------------------------- stages
    @contextmanager
    def stage(self, name: str) -> Iterator[StageTimer]:
        timer = StageTimer(name)
        if self.sampler:
            self.sampler.reset()
        start = time.perf_counter()
        yield timer
        peak = self.sampler.peak if self.sampler else own_tree_rss()
        spilled = self.sampler.peak_spill if self.sampler else 0
        runs.record_stage(self.con, self.run_id, name, started=timer.started,
                          duration_s=time.perf_counter() - start, rows=timer.rows, peak_rss_bytes=peak,
                          spilled_bytes=spilled)

    # ---------------------------------------------------------------- batches
    def store_files(self, dates: set[dt.date]) -> dict[str, list[str]]:
        """Store files of ``dates`` (reference tables always): the manifest is read once per run,
        not per batch (the run holds the lock; the store cannot change under it)."""
        if self._files is None:
            self._files = {}
            rows = self.con.execute("SELECT table_name, path, date FROM ingest_files ORDER BY table_name, date, path"
                                    ).fetchall()
            want = set(self.pipe.tables_read)
            for table, path, date in rows:
                if table in want:
                    self._files.setdefault(table, []).append((date, store.absolute(path, self.root)))
        return {t: [p for d, p in v if d is None or d in dates] for t, v in self._files.items()}

    def job(self, batch_id: int, units: list[Unit]) -> BatchJob:
        files = self.store_files({u.date for u in units})
        s = self.settings
        return BatchJob(batch_id, tuple(u.key for u in units), files, s.params, s.scenarios, self.pipe.name,
                        executor_memory(s), s.threads, str(s.temp_dir), s.profile, str(self.root))

    def mark_running(self, units: list[Unit]) -> None:
        checkpoint.mark_running(self.con, self.run_id, units)

    def commit(self, units: list[Unit], out: BatchOutput, signatures: dict, batch_id: int,
               next_units: list[Unit]) -> None:
        """Results and checkpoint rows of a batch in one transaction (the exactly-once point).

        The same transaction marks the next batch ``running``, so a batch costs one commit.
        """
        con = self.con
        per_unit_s = out.seconds / max(1, len(units))
        kill_point("results-written")
        with db.transaction(con):
            results.swap(con, self.pipe.result_tables, [u.key for u in units], out.files, self.run_id, batch_id)
            checkpoint.mark_done(con, self.run_id, batch_id, units, signatures, per_unit_s, out.rows_per_unit,
                                 out.worker)
            self.mark_running(next_units)
        self.peak_batch_rss = max(self.peak_batch_rss, out.peak_rss_bytes)

    def mark_failed(self, unit: Unit, error: str) -> None:
        checkpoint.mark_failed(self.con, self.run_id, unit, error)
        self.failed.append((unit, error))
        log.error("unit %s failed: %s", unit, error)

    def run_batch(self, batch_id: int, units: list[Unit], signatures: dict, next_units: list[Unit]) -> int:
        """Compute and commit one batch (its units already marked running); on error retry unit by unit."""
        try:
            out = self.executor.compute(self.job(batch_id, units))
            t0 = time.perf_counter()
            self.commit(units, out, signatures, batch_id, next_units)
            self.step_seconds["commit"] += time.perf_counter() - t0
            for step, secs in out.step_seconds.items():
                self.step_seconds[step] += secs
            self.done += len(units)
            return sum(out.rows_per_unit.values())
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:   # noqa: BLE001 - a batch may fail for any reason; retry per unit
            if self.guards.stop.is_set():        # Ctrl-C interrupted the query: not the unit's fault
                raise KeyboardInterrupt from exc
            if len(units) == 1:
                self.mark_failed(units[0], _error_text(exc))
                self.mark_running(next_units)
                return 0
            log.warning("batch %d failed (%s); retrying its %d units one by one", batch_id, exc, len(units))
            singles = [[u] for u in units] + [next_units]
            return sum(self.run_batch(batch_id, singles[k], signatures, singles[k + 1]) for k in range(len(units)))

    def reset_running(self) -> None:
        """After Ctrl-C: the batch in flight was rolled back, so its units are pending again."""
        checkpoint.reset_running(self.con, self.run_id)

    # ---------------------------------------------------------------- the loop
    def run(self, plan_: Plan, signatures: dict) -> int:
        total_units = sum(len(b) for b in plan_.batches)
        st = self.status = RunStatus(self.run_id, os.getpid(), "running", time.time(), total_units,
                                     batches_total=len(plan_.batches), strategy=plan_.strategy)
        display = Display(total_units, quiet=self.quiet)
        rows, input_rows, t0 = 0, 0, time.perf_counter()
        self.guards.on_pause = lambda reason: self._paused(reason, display)
        batches = plan_.batches
        self.mark_running(batches[0] if batches else [])
        try:
            for i, batch in enumerate(batches, 1):
                if self.guards.stop.is_set():
                    raise KeyboardInterrupt
                st.current = f"batch {i}/{len(batches)}: {batch[0]}" + (f" +{len(batch) - 1}" if len(batch) > 1 else "")
                self.status_file.write(st, throttle=True)
                rows += self.run_batch(i, batch, signatures, batches[i] if i < len(batches) else [])
                elapsed = time.perf_counter() - t0
                st.batches_done, st.units_done, st.units_failed, st.rows = i, self.done, len(self.failed), rows
                input_rows += sum(plan_.input_rows.get(u.key, 0) for u in batch)
                st.rows_per_s = input_rows / elapsed if elapsed else 0.0
                finished = st.units_done + st.units_failed
                st.eta_s = elapsed / finished * (total_units - finished) if finished else None
                st.rss_bytes = self.sampler.overall if self.sampler else own_tree_rss()
                st.cpu_percent = self._proc.cpu_percent(None)   # since the last batch
                self.status_file.write(st, throttle=i < len(batches))
                display.update(st)
                if i < len(plan_.batches):
                    self.guards.between_batches()
        finally:
            display.close()
        return rows

    def record_steps(self) -> None:
        """One run_stages row per analysis step: its time summed over all batches of the run."""
        for step, secs in self.step_seconds.items():
            runs.record_stage(self.con, self.run_id, f"step {step}", started=None, duration_s=secs)

    def _paused(self, reason: str, display: Display) -> None:
        if self.status:
            self.status.paused = reason
            self.status.state = "paused" if reason else "running"
            self.status_file.write(self.status)
            display.update(self.status)


def executor_memory(settings: Settings) -> str:
    """The executor's share of the one memory budget (``duckpipe.memory``)."""
    from ..memory import mb, split
    return mb(split(settings.memory_limit_bytes).executor)


_KILL_COUNTS: dict[str, int] = {}


def kill_point(name: str) -> None:
    """Test hook for the resilience tests: ``DUCKPIPE_KILL_AT=results-written:3`` SIGKILLs this
    process the 3rd time it reaches that point (result files written, not yet committed)."""
    spec = os.environ.get("DUCKPIPE_KILL_AT")
    if not spec:
        return
    where, _, nth = spec.partition(":")
    if where != name:
        return
    _KILL_COUNTS[name] = _KILL_COUNTS.get(name, 0) + 1
    if _KILL_COUNTS[name] >= int(nth or 1):
        import signal
        os.kill(os.getpid(), signal.SIGKILL)


def _error_text(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return f"{type(exc).__name__}: {text}" if not getattr(exc, "message", None) else text
