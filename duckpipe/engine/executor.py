"""Executors: compute one batch from the store alone, in this process or elsewhere.

A :class:`BatchJob` carries everything a batch needs (store file paths of its dates, the
units, parameters, scenarios, the pipeline's name, DuckDB settings, the workspace folder), so
that the same :func:`compute_job` can run on a Dask worker. The executor writes the batch's
result rows as Parquet files under ``results/`` (``duckpipe.results``) and returns metadata
only; committing them is the engine's business: it swaps the units' manifest rows with the
checkpoint rows in one transaction.
"""
from __future__ import annotations

import concurrent.futures
import datetime as dt
import os
import queue
import resource
import socket
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from .. import results
from ..analysis import pipelines
from ..db import configure
from ..errors import UsageError
from ..profiles import DEFAULT_PROFILE, get_profile
from ..store import create_views

if TYPE_CHECKING:                       # pyarrow is imported where used: start-up stays light
    import pyarrow as pa


@dataclass(frozen=True)
class BatchJob:
    batch_id: int
    units: tuple[tuple[int, dt.date], ...]
    files: dict[str, list[str]]
    params: dict[str, Any]
    scenarios: list[dict[str, Any]]
    pipeline: str
    memory_limit: str
    threads: int
    temp_dir: str
    profile: str = DEFAULT_PROFILE
    workspace: str | None = None        # result files go under <workspace>/results/ (needed to write them)
    batch_uuid: str = field(default_factory=lambda: uuid.uuid4().hex)
    # False: return the result rows as Arrow (``BatchOutput.tables``) for the engine to write
    # together with the next batches' (local one-unit batches: one file per few units, not per unit)
    write_results: bool = True
    # Testing hook, honoured by the Dask task (never set by the CLI): a batch of more than
    # ``oom_above`` units, or holding a unit of ``oom_units``, fails with DuckDB's out-of-memory error.
    oom_above: int | None = None
    oom_units: tuple[tuple[int, dt.date], ...] = ()


@dataclass
class BatchOutput:
    files: list[results.ResultFile]                                 # written, not yet committed
    rows_per_unit: dict[tuple[int, dt.date], int] = field(default_factory=dict)
    seconds: float = 0.0
    step_seconds: dict[str, float] = field(default_factory=dict)   # per template, for run_stages
    worker: str | None = None                                       # who computed it (units.worker)
    peak_rss_bytes: int = 0                                         # of the computing process so far
    tables: dict[str, pa.Table] | None = None                       # rows not written (job.write_results False)


def rows_per_unit(tables: dict[str, pa.Table]) -> dict[tuple[int, dt.date], int]:
    """Result rows of each unit over all tables (what ``units.rows`` reports)."""
    counts: dict[tuple[int, dt.date], int] = {}
    for table in tables.values():
        if table.num_rows == 0:
            continue
        grouped = table.group_by(["security_code", "date"]).aggregate([([], "count_all")])
        for sec, d, n in zip(grouped["security_code"].to_pylist(), grouped["date"].to_pylist(),
                             grouped["count_all"].to_pylist()):
            counts[(int(sec), d)] = counts.get((int(sec), d), 0) + int(n)
    return counts


def compute_on(con: duckdb.DuckDBPyConnection, job: BatchJob, views_for: dict | None = None) -> BatchOutput:
    """Create the store views for the job's files on ``con`` (unless they are already those), run,
    and write the result rows as files (not committed: the engine does that)."""
    start = time.perf_counter()
    steps: dict[str, float] = {}
    if views_for is None or views_for.get("files") != job.files:
        create_views(con, job.files, get_profile(job.profile), temp=True)
        if views_for is not None:
            views_for["files"] = job.files
        steps["store views"] = time.perf_counter() - start
    pipe = pipelines.get(job.pipeline)
    extra = {"profile": get_profile(job.profile)} if pipe.uses_profile else {}
    tables = pipe.compute(con, list(job.units), job.params, job.scenarios, timings=steps, **extra)
    missing = [t for t in pipe.result_tables if t not in tables]
    if missing:
        raise RuntimeError(f"pipeline {pipe.name} returned no table {missing[0]}")
    counts = rows_per_unit(tables)
    held: dict[str, pa.Table] | None = {t: tables[t] for t in pipe.result_tables}
    del tables
    files: list[results.ResultFile] = []
    if job.write_results:
        if not job.workspace:               # never the current directory by default
            raise ValueError(f"batch {job.batch_id}: no workspace to write its result files into")
        t0 = time.perf_counter()
        files = results.write_batch(con, held, results.pipeline_columns(pipe), job.workspace, job.batch_uuid,
                                    threads=job.threads)
        steps["write results"] = time.perf_counter() - t0
        held = None                             # written: the Arrow buffers go before the next batch
    return BatchOutput(files, counts, time.perf_counter() - start, steps, worker_id(),
                       resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, tables=held)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _configure_executor(con: duckdb.DuckDBPyConnection, *, memory_limit: str, threads: int,
                        temp_dir: Path | str) -> None:
    """The run's settings, then :func:`tune_for_batches`."""
    configure(con, memory_limit=memory_limit, threads=threads, temp_dir=temp_dir)
    tune_for_batches(con)


def tune_for_batches(con: duckdb.DuckDBPyConnection) -> None:
    """Settings of a connection that computes batches (the tests' oracle checks use them too):

    - a Parquet footer cache: every batch of a date scans the same immutable store files (a new
      ingest writes new file names), and by-unit batches would otherwise parse the footers of
      all three files again for every unit (~2 ms a unit);
    - as-of joins always by DuckDB's sort-merge ASOF operator: below ``asof_loop_join_threshold``
      (64 rows, as estimated at plan time) DuckDB plans them as a nested loop join over every
      quote of the unit plus a grouping, and the small batches of by-unit runs (a few hundred
      fills, estimated below 64) paid ~50 ms a batch for it in the markouts alone
      (BENCHMARKS.md, "By-unit batches: the as-of lookups");
    - no progress bar: a Dask worker's stderr is no place for it.
    """
    con.execute("SET parquet_metadata_cache = true")
    con.execute("SET asof_loop_join_threshold = 0")
    con.execute("SET enable_progress_bar = false")


def compute_job(job: BatchJob) -> BatchOutput:
    """Stand-alone entry point (a worker): its own in-memory DuckDB for one job."""
    con = duckdb.connect(":memory:")
    try:
        _configure_executor(con, memory_limit=job.memory_limit, threads=job.threads, temp_dir=job.temp_dir)
        return compute_on(con, job)
    finally:
        con.close()


class LocalExecutor:
    """Runs jobs in this process on long-lived connections to one in-memory database (no setup
    per batch).

    ``in_flight`` > 1 (by-unit runs): that many batches at once, each on its own connection (its
    own temp views and tables) in a thread, sharing the database's one memory limit and thread
    pool. A one-unit batch rarely keeps more than one DuckDB thread busy (its rows fit one row
    group, and ~35 statements are mostly planning), so one at a time left a core idle.
    """

    name = "local"

    def __init__(self, memory_limit: str, threads: int, temp_dir: Path, in_flight: int = 1):
        self.con = duckdb.connect(":memory:")
        cons = [self.con] + [self.con.cursor() for _ in range(max(1, in_flight) - 1)]
        for con in cons:
            _configure_executor(con, memory_limit=memory_limit, threads=threads, temp_dir=temp_dir)
        self._cons = cons
        # connections not computing, each with the views it holds (consecutive batches of one date reuse them)
        self._free: queue.SimpleQueue[tuple[duckdb.DuckDBPyConnection, dict]] = queue.SimpleQueue()
        for con in cons:
            self._free.put((con, {}))
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None   # while run_jobs has jobs in flight

    def compute(self, job: BatchJob) -> BatchOutput:
        """One job on a free connection (waits for one while all are computing)."""
        con, views = self._free.get()
        try:
            return compute_on(con, job, views)
        finally:
            self._free.put((con, views))

    @property
    def takes_ahead(self) -> bool:
        """Whether :meth:`run_jobs` takes a job before the caller has handled the last output (two
        in flight): the caller then marks no batch running ahead, its ``jobs`` do as each is taken."""
        return len(self._cons) > 1

    def _outcome(self, job: BatchJob) -> BatchOutput | BaseException:
        try:
            return self.compute(job)
        except Exception as exc:  # noqa: BLE001 - the engine decides (retry unit by unit)
            return exc

    def run_jobs(self, jobs: Iterable[BatchJob]) -> Iterator[tuple[BatchJob, BatchOutput | BaseException]]:
        """Up to ``in_flight`` jobs at a time, each output yielded as it is ready. The job that takes
        a finished one's place starts before that output is yielded: while the caller commits it
        (or writes the held results of several), ``in_flight`` jobs still compute. One at a time,
        in order, when ``in_flight`` is 1."""
        if len(self._cons) == 1:
            for job in jobs:
                yield job, self._outcome(job)
            return
        todo = iter(jobs)
        pending: dict[concurrent.futures.Future, BatchJob] = {}
        with concurrent.futures.ThreadPoolExecutor(len(self._cons), thread_name_prefix="duckpipe-batch") as pool:
            self._pool = pool
            try:
                while True:
                    while len(pending) < len(self._cons) and (job := next(todo, None)) is not None:
                        pending[pool.submit(self._outcome, job)] = job
                    if not pending:
                        return
                    done, _ = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
                    for fut in done:
                        job = pending.pop(fut)
                        if (nxt := next(todo, None)) is not None:   # computes while the caller commits
                            pending[pool.submit(self._outcome, nxt)] = nxt
                        yield job, fut.result()
            finally:
                if pending:                # the caller stopped early (Ctrl-C, an error): stop the rest
                    self.interrupt()
                self._pool = None

    def describe(self) -> dict[str, Any]:
        return {"executor": "local", "scheduler": None, "in_flight": len(self._cons)}

    def interrupt(self) -> None:
        for con in self._cons:
            try:
                con.interrupt()
            except duckdb.ConnectionException:     # already closed: nothing runs on it
                pass

    def close(self) -> None:
        """Close the connections, after stopping and waiting for any batch still in flight (a
        caller that stopped consuming ``run_jobs`` may not have closed that generator yet)."""
        pool = self._pool
        if pool is not None:
            self.interrupt()
            pool.shutdown(wait=True)
        for con in reversed(self._cons):
            con.close()


def check_executor(name: str, scheduler: str | None = None, workers: int | None = None) -> None:
    """Refuse unknown executors and options of the wrong executor (SPEC §1), before any work.
    (``dask`` without its extra is refused by :func:`duckpipe.engine.dask_executor.require_dask`.)"""
    if name not in ("local", "dask"):
        raise UsageError(f"--executor: {name!r} is not one of local|dask")
    if name == "local" and (scheduler or workers):
        raise UsageError(f"{'--scheduler' if scheduler else '--workers'} goes with --executor dask")
    if workers is not None and workers < 1:
        raise UsageError(f"--workers: {workers} is not a number of worker processes (1 or more)")
    if scheduler and workers:
        raise UsageError("--workers starts a local cluster; with --scheduler the cluster's workers are used")


def make_executor(name: str, *, memory_limit: str, threads: int, temp_dir: Path,
                  scheduler: str | None = None, in_flight: int = 1) -> LocalExecutor:
    check_executor(name, scheduler)
    if name != "local":
        raise UsageError(f"--executor {name}: built by duckpipe.engine.session, not here")
    return LocalExecutor(memory_limit, threads, temp_dir, in_flight)


__all__ = ["BatchJob", "BatchOutput", "compute_job", "tune_for_batches", "LocalExecutor", "check_executor",
           "make_executor"]
