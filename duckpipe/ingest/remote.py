"""Ingest on an executor of tasks (``--executor dask``): one task per input file (SPEC §1, §3).

The coordinator (the command's process, the only one that opens ``duckpipe.duckdb``) decides
which files changed, builds one :class:`FileJob` per changed file and hands the jobs to the
executor (``run_jobs(jobs, task=load_file_job)``, :mod:`duckpipe.engine.dask_executor`). On a
worker, :func:`load_file_job` runs the local ingest's own per-file code (``load.load_file``) in a
DuckDB of its own under its memory share, writes that file's store files, and returns only
metadata (:class:`FileOutput`: store files, row counts, line accounting, checksums, rejects,
timings, worker). The coordinator commits each file's manifest rows as its output arrives,
with the local ingest's own commit (``load.commit_file``).

Kill-safety is the local one: a file's store files are named by a file id drawn on the worker for
each attempt, and become visible only at the coordinator's commit; the files of an attempt whose
worker died are orphans no manifest row names, removed at the end of this ingest (nothing is in
flight then) or by the next one.
"""
from __future__ import annotations

import logging
import os
import resource
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from ..db import configure
from ..profiles import DEFAULT_PROFILE, Profile, get_profile
from ..settings import Settings
from .load import (
    REJ_T,
    FileResult,
    IngestSummary,
    Loaded,
    _unchanged,
    clean_orphans,
    commit_file,
    load_file,
    new_file_id,
    worker_id,
)
from .memory import ingest_threads, memory_limit
from .rawfiles import InputFile

log = logging.getLogger(__name__)
REJECTS = "_dp_rejects"


@dataclass(frozen=True)
class FileJob:
    """Everything a worker needs to load one input file (the field names the Dask executor's
    memory share rewrites are those of ``BatchJob``: memory_limit, threads, temp_dir)."""

    batch_id: int                        # position among the files to load (names the Dask task)
    file: InputFile
    store_dir: str
    workspace: str
    memory_limit: str
    threads: int
    temp_dir: str
    profile: str = DEFAULT_PROFILE


@dataclass
class FileOutput:
    """What a worker returns: metadata only (the store files are on the shared filesystem)."""

    file_id: str
    loaded: Loaded | None                # None: the file failed (``error``), nothing of it left
    error: str | None = None
    rejects: pa.Table | None = None      # rows of _dp_rejects (line, column, reason, raw bytes, type)
    seconds: float = 0.0
    worker: str | None = None
    peak_rss_bytes: int = 0


def load_file_job(job: FileJob) -> FileOutput:
    """The worker's side: one file into its store files, in a DuckDB of its own."""
    t0 = time.monotonic()
    con = duckdb.connect(":memory:")
    try:
        configure(con, memory_limit=job.memory_limit, threads=job.threads, temp_dir=job.temp_dir)
        con.execute("SET enable_progress_bar = false")
        threads = ingest_threads(memory_limit(con), job.threads)
        if threads != job.threads:
            con.execute(f"SET threads = {int(threads)}")
        f = job.file
        file_id = new_file_id(str(f.path))
        with ThreadPoolExecutor(max_workers=1) as pool:
            res, error = load_file(con, f, get_profile(job.profile).tables[f.table], Path(job.store_dir),
                                   Path(job.workspace), file_id, pool)
        rejects = None
        if res is not None and con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = $t",
                                           {"t": REJECTS}).fetchall()[0][0]:
            rejects = con.sql(f"SELECT * FROM {REJECTS} ORDER BY line NULLS LAST").to_arrow_table()
        return FileOutput(file_id, res, error, rejects, time.monotonic() - t0, worker_id(),
                          resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    finally:
        con.close()


def _restore_rejects(con: duckdb.DuckDBPyConnection, rejects: pa.Table | None) -> None:
    """The worker's reject rows as the coordinator's ``_dp_rejects`` (what ``_commit`` copies)."""
    for t in (REJECTS, REJ_T):
        con.execute(f"DROP TABLE IF EXISTS temp.{t}")
    if rejects is not None:
        con.register("_dp_remote_rejects", rejects)
        try:
            con.execute(f"CREATE TEMP TABLE {REJECTS} AS SELECT * FROM _dp_remote_rejects")
        finally:
            con.unregister("_dp_remote_rejects")


def on_executor(executor, settings: Settings, memory: str, threads: int) -> Callable:
    """``load.ingest``'s ``elsewhere``: the files on ``executor`` with DuckDB ``memory`` and
    ``threads`` per task (the executor may lower them to a worker's share)."""
    def elsewhere(con, files, summary, watch, progress, stop) -> None:
        ingest_files(con, files, executor, store_dir=settings.store_dir, root=settings.workspace,
                     profile=settings.profile_def, memory=memory, threads=threads, temp_dir=settings.temp_dir,
                     summary=summary, watch=watch, progress=progress, stop=stop)
    return elsewhere


def ingest_files(con: duckdb.DuckDBPyConnection, files: list[InputFile], executor, *, store_dir: Path,
                 root: Path, profile: Profile, memory: str, threads: int, temp_dir: Path,
                 summary: IngestSummary, watch=None, progress: Callable | None = None,
                 stop=None) -> None:
    """Load ``files`` through ``executor`` (a few tasks in flight per worker), committing each
    file as its output arrives; ``summary.files`` ends in the order of ``files``."""
    pending: dict[int, tuple[InputFile, os.stat_result, str]] = {}
    results: dict[int, FileResult] = {}
    done = 0

    def record(i: int, r: FileResult, f: InputFile) -> None:
        nonlocal done
        done += 1
        results[i] = r
        if r.status == "loaded":
            summary.bytes_read += f.path.stat().st_size
        if watch is not None and hasattr(watch, "file_committed"):
            watch.file_committed(f.path, r.status, r.rows_loaded if r.status == "loaded" else 0)
        elif progress is not None and not hasattr(progress, "file_started"):
            progress(r.path, done, len(files))

    def jobs() -> Iterator[FileJob]:
        for i, f in enumerate(files, 1):
            if stop is not None and stop.is_set():
                raise KeyboardInterrupt
            p = str(f.path)
            st = f.path.stat()
            same, fp, row = _unchanged(con, p, st)
            if same:
                log.info("%s: unchanged, skipped", p)
                record(i, FileResult(p, f.table, "skipped_unchanged", row[4], row[5], row[6], row[7], 0.0), f)
                continue
            pending[i] = (f, st, fp)
            yield FileJob(i, f, str(store_dir), str(root), memory, threads, str(temp_dir), profile.name)

    if files and hasattr(executor, "check_readable"):
        executor.check_readable(sorted({str(f.path.parent) for f in files}))
    t_coord = 0.0
    try:
        for job, out in executor.run_jobs(jobs(), task=load_file_job):
            if stop is not None and stop.is_set():
                raise KeyboardInterrupt
            t0 = time.perf_counter()
            f, st, fp = pending.pop(job.batch_id)
            if isinstance(out, BaseException):         # the task itself failed (e.g. its workers kept dying)
                error = f"{f.path}: {type(out).__name__}: {str(out).splitlines()[0] if str(out) else ''}"
                out = FileOutput(new_file_id(str(f.path)), None, error)
            _restore_rejects(con, out.rejects if out.loaded is not None else None)
            r = commit_file(con, f, st, fp, out.file_id, out.loaded, out.error, out.seconds, profile, root,
                            out.worker)
            summary.peak_rss_bytes = max(summary.peak_rss_bytes, out.peak_rss_bytes)
            record(job.batch_id, r, f)
            t_coord += time.perf_counter() - t0
    finally:                               # also on Ctrl-C: the files committed so far
        summary.files.extend(results[i] for i in sorted(results))
    committed = sum(r.status != "skipped_unchanged" for r in results.values())
    if committed:
        log.debug("ingest on %s: %d file(s) committed; coordinator %.1f ms per file (commit)",
                  getattr(executor, "name", "executor"), committed, 1000 * t_coord / committed)
    clean_orphans(con, store_dir)         # files of attempts whose worker died (nothing is in flight now)


__all__ = ["FileJob", "FileOutput", "load_file_job", "ingest_files", "on_executor"]
