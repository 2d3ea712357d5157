"""The unit engine: plan batches, compute them through an executor, commit exactly once.

Ordering constraints of a batch (SPEC §4):
1. mark its units ``running`` (committed: evidence if this process dies);
2. compute the results (executor; no catalog writes);
3. ONE transaction: delete earlier result rows of its units, insert the new ones, write the
   checkpoint rows (done, signature, timings, run id). A kill before this commit leaves the
   units ``running`` = failed on the next start and their old rows untouched; after it, done.
A failing batch is retried unit by unit; a failing unit is marked failed and the run goes on.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import duckdb
import psutil
import pyarrow as pa

from . import db, pipelines, store
from .executor import BatchJob, BatchOutput
from .progress import Display, Guards, PeakSampler, RunStatus, StatusFile, own_tree_rss
from .settings import Settings
from .sqlrender import quote_ident
from .units import Unit

log = logging.getLogger(__name__)
STRATEGIES = ("auto", "by-unit", "by-date", "by-week", "by-month")
# Working-set bytes per input row (orders + trades + nbbo) of a batch. Measured with
# bench_e2e data: a 1.57M-row by-date batch peaked at 640 MB RSS including ~200 MB of
# interpreter and libraries (~280 B/row); a 3.1M-row by-week batch at 908 MB.
EST_BYTES_PER_ROW = 300


@dataclass
class Plan:
    strategy: str
    reason: str
    batches: list[list[Unit]]
    input_rows: dict[tuple[int, dt.date], int] = field(default_factory=dict)   # store rows per unit


def _grain_key(strategy: str) -> Callable[[Unit], Any]:
    return {
        "by-unit": lambda u: u.key,
        "by-date": lambda u: u.date,
        "by-week": lambda u: tuple(u.date.isocalendar())[:2],
        "by-month": lambda u: (u.date.year, u.date.month),
    }[strategy]


def group(units: list[Unit], strategy: str) -> list[list[Unit]]:
    key = _grain_key(strategy)
    batches: dict[Any, list[Unit]] = defaultdict(list)
    for u in sorted(units, key=lambda u: (u.date, u.security_code)):
        batches[key(u)].append(u)
    return list(batches.values())


def plan(units: list[Unit], strategy: str, unit_rows: dict[tuple[int, dt.date], int],
         memory_limit_bytes: int) -> Plan:
    """Batches for ``strategy``; ``auto`` picks the largest grain whose biggest batch fits half the memory."""
    if strategy != "auto":
        return Plan(strategy, "chosen on the command line", group(units, strategy), unit_rows)
    budget = memory_limit_bytes // 2
    notes = []
    for grain in ("by-month", "by-week", "by-date"):
        batches = group(units, grain)
        biggest = max((sum(unit_rows.get(u.key, 0) for u in b) * EST_BYTES_PER_ROW for b in batches), default=0)
        if biggest <= budget:
            reason = (f"{grain}: largest batch needs ~{biggest / 2**20:,.0f} MB (est.), within half the"
                      f" memory limit ({budget / 2**20:,.0f} MB)" + (f"; {'; '.join(notes)}" if notes else ""))
            return Plan(grain, reason, batches, unit_rows)
        notes.append(f"{grain} would need ~{biggest / 2**20:,.0f} MB")
    return Plan("by-unit", f"by-unit: {'; '.join(notes)} (over {budget / 2**20:,.0f} MB)", group(units, "by-unit"),
                unit_rows)


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
        self.con.execute(
            "INSERT INTO run_stages VALUES ($r, $s, to_timestamp($t0)::TIMESTAMP, now()::TIMESTAMP, $d, $n, $p, $sp)",
            {"r": self.run_id, "s": name, "t0": timer.started, "d": time.perf_counter() - start,
             "n": timer.rows, "p": peak, "sp": spilled})

    # ---------------------------------------------------------------- batches
    def job(self, batch_id: int, units: list[Unit]) -> BatchJob:
        dates = sorted({u.date for u in units})
        files = store.store_files(self.con, tables=list(self.pipe.tables_read), dates=dates)
        s = self.settings
        return BatchJob(batch_id, tuple(u.key for u in units), files, s.params, s.scenarios, self.pipe.name,
                        s.memory_limit, s.threads, str(s.temp_dir))

    def mark_running(self, units: list[Unit]) -> None:
        """Evidence for the next start: units left ``running`` by a dead process count as failed."""
        if units:
            self.con.executemany(
                "UPDATE units SET status = 'running', started_at = now()::TIMESTAMP, run_id = ?"
                " WHERE security_code = ? AND date = ?", [(self.run_id, *u.key) for u in units])

    def commit(self, units: list[Unit], out: BatchOutput, signatures: dict, batch_id: int,
               next_units: list[Unit]) -> None:
        """Results and checkpoint rows of a batch in one transaction (the exactly-once point).

        The same transaction marks the next batch ``running``, so a batch costs one commit.
        """
        con = self.con
        con.register("_commit_units", pa.table({"security_code": pa.array([u.security_code for u in units], pa.int32()),
                                                "date": pa.array([u.date for u in units], pa.date32())}))
        per_unit_s = out.seconds / max(1, len(units))
        with db.transaction(con):
            for table in self.pipe.result_tables:
                name = quote_ident(table)
                con.execute(f"DELETE FROM {name} t USING _commit_units b"
                            " WHERE t.security_code = b.security_code AND t.date = b.date")
                arrow = out.tables[table]
                if arrow.num_rows:
                    con.register("_batch_result", arrow)
                    try:
                        con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM _batch_result")
                    finally:
                        con.unregister("_batch_result")
            con.executemany(
                "UPDATE units SET status = 'done', attempts = attempts + 1, signature = ?,"
                " finished_at = now()::TIMESTAMP, duration_s = ?, rows = ?, error = NULL, run_id = ?, batch_id = ?"
                " WHERE security_code = ? AND date = ?",
                [(signatures.get(u.key), per_unit_s, out.rows_per_unit.get(u.key, 0), self.run_id, batch_id, *u.key)
                 for u in units])
            self.mark_running(next_units)
        con.unregister("_commit_units")

    def mark_failed(self, unit: Unit, error: str) -> None:
        self.con.execute(
            "UPDATE units SET status = 'failed', attempts = attempts + 1, finished_at = now()::TIMESTAMP,"
            " error = $e, run_id = $r WHERE security_code = $s AND date = $d",
            {"e": error[:2000], "r": self.run_id, "s": unit.security_code, "d": unit.date})
        self.failed.append((unit, error))
        log.error("unit %s failed: %s", unit, error)

    def run_batch(self, batch_id: int, units: list[Unit], signatures: dict, next_units: list[Unit]) -> int:
        """Compute and commit one batch (its units already marked running); on error retry unit by unit."""
        try:
            out = self.executor.compute(self.job(batch_id, units))
            self.commit(units, out, signatures, batch_id, next_units)
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
                from .store_check import explain_unit_error   # a damaged store file names itself
                self.mark_failed(units[0], explain_unit_error(self.con, self.pipe.tables_read, units[0],
                                                              _error_text(exc)))
                self.mark_running(next_units)
                return 0
            log.warning("batch %d failed (%s); retrying its %d units one by one", batch_id, exc, len(units))
            singles = [[u] for u in units] + [next_units]
            return sum(self.run_batch(batch_id, singles[k], signatures, singles[k + 1]) for k in range(len(units)))

    def reset_running(self) -> None:
        """After Ctrl-C: the batch in flight was rolled back, so its units are pending again."""
        self.con.execute("UPDATE units SET status = 'pending' WHERE status = 'running' AND run_id = $r",
                         {"r": self.run_id})

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
            self.con.execute("INSERT INTO run_stages (run_id, stage, duration_s) VALUES ($r, $s, $d)",
                             {"r": self.run_id, "s": f"step {step}", "d": secs})

    def _paused(self, reason: str, display: Display) -> None:
        if self.status:
            self.status.paused = reason
            self.status.state = "paused" if reason else "running"
            self.status_file.write(self.status)
            display.update(self.status)


def _error_text(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return f"{type(exc).__name__}: {text}" if not getattr(exc, "message", None) else text
