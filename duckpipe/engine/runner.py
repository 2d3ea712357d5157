"""The unit engine: plan batches, compute them through an executor, commit exactly once.

Ordering constraints of a batch (SPEC §4):
1. mark its units ``running`` (committed: evidence if this process dies);
2. compute the results and write them as Parquet files under ``results/`` (executor; no
   catalog writes; the files are invisible until committed). Local one-unit batches are held
   instead and a few written together by the engine (HOLD_UNITS below);
3. ONE transaction: swap the units' entries in the results manifest (``result_files``) for
   the new files and write the checkpoint rows (done, signature, timings, run id, worker). A
   kill before this commit leaves the units ``running`` = failed on the next start, their old
   rows untouched and the new files orphans (deleted by the next run); after it, done.
A failing batch is retried unit by unit; a failing unit is marked failed and the run goes on.
"""
from __future__ import annotations

import concurrent.futures
import datetime as dt
import logging
import os
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field

import duckdb
import psutil

from .. import db, results, store
from ..analysis import pipelines
from ..settings import Settings
from . import runs
from . import units as checkpoint
from .executor import BatchJob, BatchOutput
from .guards import Guards
from .live import Display
from .planning import Plan
from .resources import PeakSampler, own_tree_rss
from .status import RunStatus, StatusFile
from .units import Unit

log = logging.getLogger(__name__)
# One-unit batches (by-unit, locally) are held and committed a few at a time: their rows are
# written as one file per table and date for up to HOLD_UNITS units or a quarter of the memory
# limit of Arrow (at most HOLD_BYTES), so a by-unit run leaves fewer files a date than the
# compaction's threshold (results.COMPACT_MIN_FILES), like a packed run: no rewrite of every row
# after it (82 s of a 629 s by-unit run at 20 GB), and one results commit per few units. The
# engine's writer thread writes one such set while the next is computed (the byte cap counts
# both). A kill costs at most the compute of those two sets (2 x HOLD_UNITS units at most); they
# are committed before any pause of the guards.
HOLD_UNITS = 8
HOLD_BYTES = 256 * 2**20


@dataclass
class ComputedBatch:
    batch_id: int
    units: list[Unit]
    out: BatchOutput                   # held: its rows in ``out.tables``, not written yet


@dataclass
class HeldWrite:
    """Held batches whose files the engine's writer thread is writing; committed once written."""
    future: concurrent.futures.Future
    batches: list[ComputedBatch]
    nbytes: int                        # their Arrow, counted in the hold's byte cap until committed


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
        self.display = None                # live.RunDisplay covering every stage, else one for units
        self.expected_s: dict[str, float] = {}   # seconds of the stages after units, from the last run
        self._started_stages: set[str] = set()
        self._t_command = time.perf_counter()
        self._proc = psutil.Process()
        self._proc.cpu_percent(None)       # the first reading only starts the measurement
        self._files: dict[str, list[tuple[dt.date | None, str]]] | None = None   # the store, listed once
        self.root = store.workspace_root(con)
        self.peak_batch_rss = 0
        self.memory_splits = 0             # batches retried as halves after failing for memory
        self.hold_results = False          # set by run(): the executor returns rows, written a few batches together
        self._held: list[ComputedBatch] = []
        self._writing: HeldWrite | None = None
        self._writer: concurrent.futures.ThreadPoolExecutor | None = None   # writes held batches' files

    # ---------------------------------------------------------------- stages
    @contextmanager
    def stage(self, name: str) -> Iterator[StageTimer]:
        timer = StageTimer(name)
        if self.sampler:
            self.sampler.reset()
        self._show_stage(name)
        start = time.perf_counter()
        with db.observe_templates(self._show_step) if name != "units" else nullcontext():
            yield timer
        if self.display is not None:
            self.display.stage_done(name, time.perf_counter() - start, timer.rows)
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
                        executor_memory(s), s.threads, str(s.temp_dir), s.profile, str(self.root),
                        write_results=not self.hold_results)

    def mark_running(self, units: list[Unit]) -> None:
        checkpoint.mark_running(self.con, self.run_id, units)

    def commit(self, batches: list[ComputedBatch], files: list[results.ResultFile], signatures: dict,
               next_units: list[Unit]) -> None:
        """Results and checkpoint rows of one batch, or of a few held ones, in one transaction (the
        exactly-once point).

        The same transaction marks the next batch ``running``, so a batch costs one commit.
        """
        con = self.con
        with db.transaction(con):
            results.swap(con, self.pipe.result_tables, [u.key for b in batches for u in b.units], files,
                         self.run_id, batches[0].batch_id)
            for b in batches:
                checkpoint.mark_done(con, self.run_id, b.batch_id, b.units, signatures,
                                     b.out.seconds / max(1, len(b.units)), b.out.rows_per_unit, b.out.worker)
            self.mark_running(next_units)
        self.peak_batch_rss = max([self.peak_batch_rss, *(b.out.peak_rss_bytes for b in batches)])
        self.done += sum(len(b.units) for b in batches)

    def hold(self, batch: ComputedBatch, next_units: list[Unit]) -> None:
        """Keep a batch's rows for :meth:`flush`; the next batch is marked running now, as a
        commit would."""
        self.mark_running(next_units)
        self._held.append(batch)

    @property
    def held_units(self) -> int:
        """Units computed and not committed yet: held, or in the write in progress."""
        writing = self._writing.batches if self._writing else []
        return sum(len(b.units) for b in [*self._held, *writing])

    def flush_due(self) -> bool:
        """HOLD_UNITS units held, or a quarter of the memory limit of held Arrow (at most HOLD_BYTES)."""
        held = sum(len(b.units) for b in self._held)
        return held >= HOLD_UNITS or self._held_bytes() >= self._byte_cap()

    def over_byte_cap(self) -> bool:
        """Held rows and the rows being written together reach the byte cap: the loop waits for
        the write before it holds more (a set is still written when *it* is due, not one file a unit)."""
        return self._held_bytes() + (self._writing.nbytes if self._writing else 0) >= self._byte_cap()

    def _held_bytes(self) -> int:
        return sum(t.nbytes for b in self._held for t in b.out.tables.values())

    def _byte_cap(self) -> int:
        return min(HOLD_BYTES, self.settings.memory_limit_bytes // 4)

    def flush(self, signatures: dict, *, wait: bool = True) -> None:
        """Write the held batches' rows as one file per table and date, then commit them. Called by
        the run's loop, not by a batch: a failure here (a full disk) stops the run, it is no unit's.

        One write at a time, by a thread of its own: ``wait`` False (the loop) returns at once, so
        the executor computes on while the files are written, and the loop commits them when they
        are (:meth:`commit_written`). Any earlier write is committed first."""
        import pyarrow as pa
        self.commit_written(signatures)
        held, self._held = self._held, []
        if held:
            tables = {t: pa.concat_tables([b.out.tables[t] for b in held], promote_options="permissive")
                      for t in self.pipe.result_tables}
            for b in held:
                b.out.tables = None              # the Arrow buffers go once written
            if self._writer is None:
                self._writer = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="duckpipe-flush")
            self._writing = HeldWrite(self._writer.submit(self._write_held, tables), held,
                                      sum(t.nbytes for t in tables.values()))
            del tables
        if wait:
            self.commit_written(signatures)

    def _write_held(self, tables: dict) -> tuple[list[results.ResultFile], float]:
        t0 = time.perf_counter()
        files = results.write_batch(None, tables, results.pipeline_columns(self.pipe), self.root,
                                    threads=self.settings.threads)
        return files, time.perf_counter() - t0

    def commit_written(self, signatures: dict, *, block: bool = True) -> None:
        """Commit the batches of the write in progress once their files are written (waits for them,
        unless ``block`` is False). A failed write raises here and its units stay running."""
        w = self._writing
        if w is None or not (block or w.future.done()):
            return
        files, seconds = w.future.result()
        self._writing = None
        t0 = time.perf_counter()
        self.commit(w.batches, files, signatures, [])
        self.step_seconds["write results"] += seconds
        self.step_seconds["commit"] += time.perf_counter() - t0

    def _flush_on_stop(self, signatures: dict) -> None:
        """Ctrl-C: commit the held units (computed and whole) before stopping; a failure here is
        logged, and the stop goes on (the units stay pending)."""
        held = self.held_units
        try:
            self.flush(signatures)
        except Exception as exc:  # noqa: BLE001 - the interruption is what the caller reports
            log.error("could not commit the %d computed units on stopping: %s", held, exc)

    def mark_failed(self, unit: Unit, error: str) -> None:
        checkpoint.mark_failed(self.con, self.run_id, unit, error)
        self.failed.append((unit, error))
        log.error("unit %s failed: %s", unit, error)

    def run_batch(self, batch_id: int, units: list[Unit], signatures: dict, next_units: list[Unit],
                  computed: BatchOutput | BaseException | None = None) -> int:
        """Commit one batch (its units already marked running), computing it unless ``computed`` is
        its executor's outcome; on error retry unit by unit."""
        try:
            out = self.executor.compute(self.job(batch_id, units)) if computed is None else computed
            if isinstance(out, BaseException):
                raise out
            if out.tables is not None:
                self.hold(ComputedBatch(batch_id, units, out), next_units)
            else:
                t0 = time.perf_counter()
                self.commit([ComputedBatch(batch_id, units, out)], out.files, signatures, next_units)
                self.step_seconds["commit"] += time.perf_counter() - t0
            for step, secs in out.step_seconds.items():
                self.step_seconds[step] += secs
            return sum(out.rows_per_unit.values())
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:   # noqa: BLE001 - a batch may fail for any reason; retry per unit
            if self.guards.stop.is_set():        # Ctrl-C interrupted the query: not the unit's fault
                raise KeyboardInterrupt from exc
            memory_failure = getattr(self.executor, "memory_failure", None)
            if len(units) > 1 and memory_failure is not None and memory_failure(exc):
                return self.split_for_memory(batch_id, units, signatures, next_units, exc)
            if len(units) == 1:
                from ..ingest.verify import explain_unit_error  # a damaged store file names itself
                self.mark_failed(units[0], explain_unit_error(self.con, self.pipe.tables_read, units[0],
                                                              _error_text(exc)))
                self.mark_running(next_units)
                return 0
            log.warning("batch %d failed (%s); retrying its %d units one by one", batch_id, exc, len(units))
            singles = [[u] for u in units] + [next_units]
            return sum(self.run_batch(batch_id, singles[k], signatures, singles[k + 1]) for k in range(len(units)))

    def split_for_memory(self, batch_id: int, units: list[Unit], signatures: dict, next_units: list[Unit],
                         exc: BaseException) -> int:
        """A batch that failed for memory (on an executor that says so: Dask) is computed again as
        two halves, both in flight at once; a half that fails for memory again is halved again, down
        to single units; a single unit that still fails is marked failed (``run_batch``)."""
        half = (len(units) + 1) // 2
        parts = {}
        for part in (units[:half], units[half:]):
            job = self.job(batch_id, part)
            parts[job.batch_uuid] = (job, part)
        log.warning("batch %d failed for memory (%s); retrying its %d units as batches of %d and %d", batch_id,
                    _error_text(exc).splitlines()[0], len(units), half, len(units) - half)
        self.memory_splits += 1
        rows, left = 0, len(parts)
        for job, outcome in self.executor.run_jobs(j for j, _ in parts.values()):
            left -= 1
            rows += self.run_batch(batch_id, parts[job.batch_uuid][1], signatures, next_units if not left else [],
                                   outcome)
        return rows

    def reset_running(self) -> None:
        """After Ctrl-C: the batch in flight was rolled back, so its units are pending again."""
        checkpoint.reset_running(self.con, self.run_id)

    # ---------------------------------------------------------------- the loop
    def run(self, plan_: Plan, signatures: dict) -> int:
        total_units = sum(len(b) for b in plan_.batches)
        st = self.status = RunStatus(self.run_id, os.getpid(), "running", time.time(), total_units,
                                     batches_total=len(plan_.batches), strategy=plan_.strategy,
                                     stage="units", stage_started_at=time.time())
        display = self.display or Display(total_units, quiet=self.quiet)
        after_units = sum(v for k, v in self.expected_s.items() if k != "units")
        rows, input_rows, t0 = 0, 0, time.perf_counter()
        self.guards.on_pause = lambda reason: self._paused(reason, display, signatures)
        self.hold_results = plan_.strategy == "by-unit" and self.executor.name == "local"   # a few units a file
        batches = plan_.batches
        self.mark_running(batches[0] if batches else [])
        marked = 1            # batches[:marked] are marked running (each commit marks the next one)
        takes_ahead = getattr(self.executor, "takes_ahead", False)   # then jobs() marks each batch as taken

        def jobs() -> Iterator[BatchJob]:
            """Taken by the executor when it has room: one job at a time locally, a few per worker on Dask."""
            nonlocal marked
            for i, batch in enumerate(batches, 1):
                if self.guards.stop.is_set():
                    raise KeyboardInterrupt
                if i > marked:             # taken ahead of the commits (several batches in flight)
                    self.mark_running(batch)
                    marked = i
                st.current = f"batch {i}/{len(batches)}: {batch[0]}" + (f" +{len(batch) - 1}" if len(batch) > 1 else "")
                self.status_file.write(st, throttle=True)
                yield self.job(i, batch)

        try:
            for n, (job, outcome) in enumerate(self.executor.run_jobs(jobs()), 1):
                if self.guards.stop.is_set():
                    raise KeyboardInterrupt
                batch = batches[job.batch_id - 1]
                next_units = batches[marked] if marked < len(batches) and not takes_ahead else []
                marked += bool(next_units)
                rows += self.run_batch(job.batch_id, batch, signatures, next_units, outcome)
                self.commit_written(signatures, block=self.over_byte_cap())
                if self.flush_due():
                    self.flush(signatures, wait=False)
                if not isinstance(outcome, BaseException) and outcome.worker:
                    st.workers[outcome.worker] = st.workers.get(outcome.worker, 0) + len(batch)
                elapsed = time.perf_counter() - t0
                st.batches_done, st.units_done, st.units_failed, st.rows = n, self.done, len(self.failed), rows
                input_rows += sum(plan_.input_rows.get(u.key, 0) for u in batch)
                st.rows_per_s = input_rows / elapsed if elapsed else 0.0
                finished = st.units_done + st.units_failed + self.held_units     # computed, if not committed yet
                st.eta_s = elapsed / finished * (total_units - finished) + after_units if finished else None
                st.elapsed_s = time.perf_counter() - self._t_command
                st.rss_bytes = self.sampler.overall if self.sampler else own_tree_rss()
                st.cpu_percent = self._proc.cpu_percent(None)   # since the last batch
                self.status_file.write(st, throttle=n < len(batches))
                display.update(st)
                if n < len(plan_.batches):
                    self.guards.between_batches()
            self.flush(signatures)             # the last held batches
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt) or self.guards.stop.is_set():
                self._flush_on_stop(signatures)   # Ctrl-C (also one that interrupted a catalog query)
            raise
        finally:
            if self._writer is not None:       # an error stopped the run mid-write: its files stay orphans
                self._writer.shutdown(wait=True)
                self._writer = None
            if st.units_done != self.done:
                st.units_done = self.done
                self.status_file.write(st)
                display.update(st)
            if display is not self.display:
                display.close()
        return rows

    def _show_step(self, template: str) -> None:
        """The template a stage after the units is running (status ``current``, display)."""
        if self.status and self.status.current != template:
            self.status.current = template
            self.status.elapsed_s = time.perf_counter() - self._t_command
            self.status_file.write(self.status)
            if self.display is not None:
                self.display.step(template)

    def _show_stage(self, name: str) -> None:
        """A stage starts: its name, and the time left of the whole command, in the status file
        and the display (the units stage refines its ETA after every batch)."""
        left = sum(v for k, v in self.expected_s.items() if k not in self._started_stages)
        self._started_stages.add(name)
        eta = left if self.expected_s and name != "units" else None
        if self.status:
            st = self.status
            st.stage, st.stage_started_at, st.current = name, time.time(), ""
            st.elapsed_s = time.perf_counter() - self._t_command
            if name != "units":
                st.eta_s = eta             # None: no earlier run timed this stage
            self.status_file.write(st)
        if self.display is not None:
            self.display.stage(name, eta)

    def record_steps(self) -> None:
        """One run_stages row per analysis step: its time summed over all batches of the run."""
        for step, secs in self.step_seconds.items():
            runs.record_stage(self.con, self.run_id, f"step {step}", started=None, duration_s=secs)
        for stage, (secs, batches) in getattr(self.executor, "stage_seconds", dict)().items():
            runs.record_stage(self.con, self.run_id, stage, started=None, duration_s=secs, rows=batches)

    def _paused(self, reason: str, display: Display, signatures: dict) -> None:
        if reason:                             # a pause may be long (memory short, others' CPU): commit what is held
            self.flush(signatures)
            if self.status:
                self.status.units_done = self.done
        if self.status:
            self.status.paused = reason
            self.status.state = "paused" if reason else "running"
            self.status_file.write(self.status)
            display.update(self.status)


def executor_memory(settings: Settings) -> str:
    """The executor's share of the one memory budget (``duckpipe.budget``)."""
    from ..budget import mb, split
    return mb(split(settings.memory_limit_bytes).executor)


def _error_text(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return f"{type(exc).__name__}: {text}" if not getattr(exc, "message", None) else text
