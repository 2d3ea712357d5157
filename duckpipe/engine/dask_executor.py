"""The Dask executor (SPEC §1): batches computed on a Dask cluster, committed by the coordinator.

The coordinator (the command's process) alone opens ``duckpipe.duckdb``: it plans, builds a
:class:`BatchJob` per batch, submits ``compute_job(job)`` as one task, and commits each
:class:`BatchOutput` as it comes back, in whatever order the batches finish. What a worker
returns is the business of :func:`compute_job`; this module only adds the worker's address.

- Bounded work in flight: about two batches per worker thread, so the coordinator's memory
  does not grow with the number of batches.
- A worker that dies mid-batch costs time only: the scheduler gives its task to another
  worker (up to ``distributed.scheduler.allowed-failures`` deaths per task, default 3, after
  which the batch fails like any failing batch and is retried unit by unit).
- Memory: on the ``LocalCluster`` started for the command, ``--memory-limit`` is the budget of
  the whole machine, shared by the N workers and the coordinator (each task's DuckDB gets
  1/(N+1) of it). On a cluster of its own (``--scheduler``) each task's DuckDB takes its share
  of its worker's ``--memory-limit`` (60%, divided by the worker's threads); a worker without a
  limit uses ``--memory-limit``.
- Ctrl-C (:meth:`DaskExecutor.interrupt`) cancels the futures in flight.

``dask`` and ``distributed`` are imported only here, and only when the executor is used.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..settings import parse_size
from .executor import BatchJob, BatchOutput, compute_job

log = logging.getLogger(__name__)

INSTALL_HINT = "--executor dask needs the Dask extra: pip install 'duckpipe[dask]'"
WORKER_MEMORY_SHARE = 0.6     # of a worker's Dask memory limit for DuckDB (Dask pauses at 80%, kills at 95%)
PER_THREAD_IN_FLIGHT = 2      # batches submitted per worker thread
CONNECT_TIMEOUT_S = 15
WAIT_WORKERS_S = 60


def require_dask() -> None:
    """A one-line usage error (exit 2) when the extra is not installed."""
    try:
        import dask  # noqa: F401
        import distributed  # noqa: F401
    except ImportError:
        raise UsageError(INSTALL_HINT) from None


# ------------------------------------------------------------------ what runs on a worker

def _mib(n_bytes: float) -> str:
    return f"{max(64, int(n_bytes // 2**20))}MiB"


def task_settings(job: BatchJob, worker_memory_limit: int | None, worker_threads: int, cpu_count: int,
                  worker_key: str) -> BatchJob:
    """The job as this worker runs it: DuckDB memory and threads of its share, a private temp dir.

    Several workers may share the workspace's temp directory: DuckDB's spill files have fixed
    names, so each worker process and thread spills into a sub-directory of its own.
    """
    memory = job.memory_limit
    if worker_memory_limit:
        memory = _mib(worker_memory_limit * WORKER_MEMORY_SHARE / max(1, worker_threads))
    threads = max(1, min(job.threads, cpu_count // max(1, worker_threads)))
    temp = str(Path(job.temp_dir) / f"dask-{worker_key}")
    return dataclasses.replace(job, memory_limit=memory, threads=threads, temp_dir=temp)


def run_on_worker(job: BatchJob, task: Callable | None = None) -> BatchOutput:
    """The Dask task: ``task(job)`` (default :func:`compute_job`; the ingest's per-file task
    takes a job with the same memory_limit/threads/temp_dir fields) with this worker's share,
    its output tagged with the worker's address."""
    from distributed import get_worker
    w = get_worker()
    limit = getattr(getattr(w, "memory_manager", None), "memory_limit", None)
    nthreads = getattr(getattr(w, "state", None), "nthreads", None) or getattr(w, "nthreads", 1)
    key = f"{os.getpid()}-{threading.get_ident()}"
    job = task_settings(job, limit, nthreads, os.cpu_count() or 1, key)
    _memory_fault(job)
    out = (task or compute_job)(job)
    try:
        out.worker = w.address
    except dataclasses.FrozenInstanceError:
        out = dataclasses.replace(out, worker=w.address)
    return out


def _memory_fault(job) -> None:
    """The testing hook of ``BatchJob.oom_above`` / ``oom_units`` (never set by the CLI): the
    DuckDB out-of-memory error a batch too big for its worker's memory raises."""
    above, units = getattr(job, "oom_above", None), getattr(job, "oom_units", ())
    if (above is not None and len(job.units) > above) or (units and set(job.units) & set(units)):
        import duckdb
        raise duckdb.OutOfMemoryException(f"Out of Memory Error: (testing hook) batch {job.batch_id} of"
                                          f" {len(job.units)} unit(s) exceeds {job.memory_limit}")


def is_memory_failure(exc: BaseException) -> bool:
    """A batch that failed for memory: DuckDB's out-of-memory error (as raised, or translated by
    ``db.execute``), Python's MemoryError, or a worker killed again and again while running it
    (Dask's KilledWorker: the nanny kills a worker over its memory limit)."""
    import duckdb
    if isinstance(exc, (duckdb.OutOfMemoryException, MemoryError)) or type(exc).__name__ == "KilledWorker":
        return True
    text = str(getattr(exc, "message", None) or exc)
    return "OutOfMemoryException" in text or "Out of Memory Error" in text


def probe_workspace(workspace: str, token: str) -> str | None:
    """Run on every worker at start: does it see the coordinator's workspace, writable?

    The coordinator wrote ``<workspace>/.dask-probe-<token>`` containing the token; a worker
    that reads it back sees the same directory (not merely a directory of the same name), and
    it then creates and removes a file of its own. Returns None, or what is wrong.
    """
    ws = Path(workspace)
    probe = ws / f".dask-probe-{token}"
    try:
        if not ws.is_dir():
            return f"{workspace} does not exist there"
        if probe.read_text() != token:
            return f"{workspace} there is not the coordinator's workspace (probe file differs)"
    except OSError as exc:
        return f"{workspace} there is not the coordinator's workspace ({exc.strerror or exc})"
    mine = ws / f".dask-probe-{token}-{os.getpid()}"
    try:
        mine.write_text(token)
        mine.unlink()
    except OSError as exc:
        return f"cannot write in {workspace} ({exc.strerror or exc})"
    return None


def probe_readable(paths: list[str]) -> str | None:
    """Run on every worker before an ingest: can it read the input files' folders?"""
    for p in paths:
        if not os.path.isdir(p) or not os.access(p, os.R_OK | os.X_OK):
            return f"{p} is not a readable folder there"
    return None


# ------------------------------------------------------------------ the coordinator's side

def _refuse_on_complaint(answers: dict[str, object], problem: str, what: str) -> None:
    """One clear error naming the first worker whose probe answered with a complaint (or failed)."""
    for address, answer in sorted(answers.items()):
        if isinstance(answer, BaseException):
            answer = f"{type(answer).__name__}: {answer}"
        if answer:
            raise UsageError(f"dask worker {address} {problem}: {answer}. Workers need {what} on a shared"
                             " filesystem, at the same path as on this machine")


class DaskExecutor:
    """Submits batches to a Dask cluster and streams their outputs back as they complete."""

    name = "dask"

    @staticmethod
    def memory_failure(exc: BaseException) -> bool:
        """The engine retries a batch that failed for memory as two halves (:func:`is_memory_failure`)."""
        return is_memory_failure(exc)

    def __init__(self, *, memory_limit: str, threads: int, temp_dir: Path, workspace: Path,
                 scheduler: str | None = None, workers: int | None = None, verbose: bool = False):
        require_dask()
        import distributed
        if not verbose:
            for name in ("distributed", "tornado"):
                logging.getLogger(name).setLevel(logging.ERROR)
        self.scheduler, self.cluster, self.client = scheduler, None, None
        self.memory_limit, self.threads, self.temp_dir = memory_limit, threads, temp_dir
        self._stop = threading.Event()
        self._in_flight: dict[Any, BatchJob] = {}
        self._closed = False
        self.batches, self.wait_s, self.busy_s = 0, 0.0, 0.0
        try:
            if scheduler:
                _reachable(scheduler)
                try:
                    self.client = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT_S)
                except (OSError, TimeoutError) as exc:
                    raise UsageError(f"--scheduler {scheduler}: cannot connect to a Dask scheduler there"
                                     f" ({exc})") from None
                try:
                    self.client.wait_for_workers(1, timeout=WAIT_WORKERS_S)
                except TimeoutError:
                    raise UsageError(f"--scheduler {scheduler}: no Dask worker connected within"
                                     f" {WAIT_WORKERS_S} s (start some with 'dask worker {scheduler}')") from None
            else:
                n = workers or _physical_cores()
                self.memory_limit = _mib(local_task_memory_bytes(parse_size(memory_limit), n))
                self.threads = max(1, threads // n)
                self.cluster = distributed.LocalCluster(
                    n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                    dashboard_address=None, memory_limit=0,       # DuckDB's own limit bounds each task
                    local_directory=str(temp_dir / "dask"))
                self.client = distributed.Client(self.cluster)
            self.check_workspace(workspace)
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------ start-up checks and facts
    def check_workspace(self, workspace: Path) -> None:
        """Every worker must see the workspace at the same path, writable: else one clear error."""
        token = uuid.uuid4().hex
        probe = workspace / f".dask-probe-{token}"
        probe.write_text(token)
        try:
            answers = self.client.run(probe_workspace, str(workspace.resolve()), token, on_error="return")
        finally:
            probe.unlink(missing_ok=True)
        _refuse_on_complaint(answers, "does not see the workspace", "the workspace")

    def check_readable(self, folders: list[str]) -> None:
        """Every worker must read the input folders (ingest): else one clear error naming it."""
        answers = self.client.run(probe_readable, sorted(folders), on_error="return")
        _refuse_on_complaint(answers, "cannot read the input files", "the raw files")

    def workers(self) -> dict[str, int]:
        """{address: threads} of the workers connected now."""
        info = self.client.scheduler_info(n_workers=-1) if self._takes_n_workers() else self.client.scheduler_info()
        return {a: int(w.get("nthreads", 1)) for a, w in info.get("workers", {}).items()}

    def _takes_n_workers(self) -> bool:
        import inspect
        return "n_workers" in inspect.signature(self.client.scheduler_info).parameters

    def describe(self) -> dict[str, Any]:
        """What ``runs.executor`` records."""
        workers = self.workers()
        return {"executor": "dask", "scheduler": self.client.scheduler.address,
                "cluster": "local" if self.cluster is not None else "external",
                "workers": sorted(workers), "threads": sum(workers.values()),
                "task_memory_limit": self.memory_limit if self.cluster is not None else "60% of worker limit / threads"}

    # ------------------------------------------------------------ running jobs
    def _max_in_flight(self) -> int:
        return max(1, PER_THREAD_IN_FLIGHT * sum(self.workers().values()))

    def _submit(self, job: BatchJob, done: queue.Queue, in_flight: dict, task: Callable | None = None):
        sent = job
        if self.cluster is not None:       # the LocalCluster's workers have no limit: the machine's share
            sent = dataclasses.replace(job, memory_limit=self.memory_limit, threads=min(job.threads, self.threads))
        kind = "batch" if task is None else getattr(task, "__name__", "task")
        fut = self.client.submit(run_on_worker, sent, task, key=f"duckpipe-{kind}-{job.batch_id}-{uuid.uuid4().hex[:8]}",
                                 pure=False)
        fut.add_done_callback(done.put)
        in_flight[fut] = job
        self._in_flight[fut] = job
        return fut

    def _next_done(self, done: queue.Queue, in_flight: dict):
        start = time.perf_counter()
        try:
            while True:
                if self._stop.is_set():
                    raise KeyboardInterrupt
                try:
                    fut = done.get(timeout=0.2)
                except queue.Empty:
                    continue
                if fut in in_flight:
                    return fut
        finally:
            self.wait_s += time.perf_counter() - start

    def _outcome(self, fut) -> BatchOutput | BaseException:
        if fut.status == "finished":
            try:
                return fut.result()
            except Exception as exc:  # noqa: BLE001 - e.g. an output that does not deserialize
                return exc
        if fut.status == "cancelled":
            if self._stop.is_set():
                raise KeyboardInterrupt
            return RuntimeError("the Dask scheduler cancelled the batch (did the scheduler restart?)")
        if fut.status == "error":
            return fut.exception()
        return RuntimeError(f"the Dask scheduler reports the batch as {fut.status}")

    def run_jobs(self, jobs: Iterable[BatchJob], task: Callable | None = None
                 ) -> Iterator[tuple[BatchJob, BatchOutput | BaseException]]:
        """Submit up to two jobs per worker thread; yield each (job, output or error) as it completes.
        ``task``: what the workers run on a job (default :func:`compute_job`; the ingest passes its own).

        Re-entrant: while the caller retries a failed batch unit by unit (``compute``, a nested
        ``run_jobs``), the outer call's futures stay in flight; each call cancels only its own."""
        jobs = iter(jobs)
        done: queue.Queue = queue.Queue()
        in_flight: dict[Any, BatchJob] = {}
        exhausted, limit, limit_at = False, self._max_in_flight(), time.monotonic()
        t0 = time.perf_counter()
        wait0 = self.wait_s
        try:
            while True:
                if time.monotonic() - limit_at > 5:            # workers may come and go
                    limit, limit_at = self._max_in_flight(), time.monotonic()
                while not exhausted and len(in_flight) < limit:
                    job = next(jobs, None)
                    if job is None:
                        exhausted = True
                    else:
                        self._submit(job, done, in_flight, task)
                if not in_flight:
                    return
                fut = self._next_done(done, in_flight)
                job = in_flight.pop(fut)
                self._in_flight.pop(fut, None)
                outcome = self._outcome(fut)
                fut.release()
                self.batches += 1
                yield job, outcome
        finally:
            self.cancel(list(in_flight))
            self.busy_s += (time.perf_counter() - t0) - (self.wait_s - wait0)

    def compute(self, job: BatchJob) -> BatchOutput:
        for _, outcome in self.run_jobs([job]):
            if isinstance(outcome, BaseException):
                raise outcome
            return outcome
        raise RuntimeError("no output")      # unreachable: run_jobs yields once per job

    def stage_seconds(self) -> dict[str, tuple[float, int]]:
        """For run_stages: the coordinator's own time (everything but waiting for workers), batches."""
        return {"coordinator (dask)": (self.busy_s, self.batches)}

    # ------------------------------------------------------------ stopping
    def cancel(self, futures: list | None = None) -> None:
        """Cancel ``futures`` (default: every future of this executor still in flight)."""
        futures = list(self._in_flight) if futures is None else futures
        for fut in futures:
            self._in_flight.pop(fut, None)
        if futures and self.client is not None:
            try:
                self.client.cancel(futures)
            except Exception:  # noqa: BLE001 - a closed client has nothing left to cancel
                pass

    def interrupt(self) -> None:
        """Ctrl-C (from the signal handler): the waiting loop cancels the futures and stops."""
        self._stop.set()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.cancel()
        for obj in (self.client, self.cluster):
            if obj is not None:
                try:
                    obj.close()
                except Exception as exc:  # noqa: BLE001 - closing must not hide the run's outcome
                    log.debug("closing %s: %s", type(obj).__name__, exc)
        if self.batches:
            log.info("dask: %d batches; coordinator busy %.1f ms per batch, waited %.1f s for workers",
                     self.batches, 1000 * self.busy_s / self.batches, self.wait_s)


def _reachable(scheduler: str) -> None:
    """A refused tcp:// address fails at once (the Dask client would retry until its timeout)."""
    from urllib.parse import urlsplit
    if not scheduler.startswith("tcp://"):
        return
    try:
        parts = urlsplit(scheduler)
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if not host or not port:
        raise UsageError(f"--scheduler {scheduler}: not an address like tcp://host:8786")
    import socket
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise UsageError(f"--scheduler {scheduler}: cannot connect to a Dask scheduler there"
                         f" ({exc.strerror or exc})") from None


def local_task_memory_bytes(memory_limit_bytes: int, workers: int | None) -> int:
    """On a LocalCluster the budget is the machine's: N workers and the coordinator, a share each."""
    return memory_limit_bytes // ((workers or _physical_cores()) + 1)


def _physical_cores() -> int:
    import psutil
    return psutil.cpu_count(logical=False) or psutil.cpu_count() or 1


__all__ = ["DaskExecutor", "require_dask", "run_on_worker", "probe_workspace", "task_settings", "INSTALL_HINT",
           "is_memory_failure"]
