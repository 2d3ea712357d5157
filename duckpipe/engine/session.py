"""One ``duckpipe run`` on an open catalog: the run row, the batches, then the post-run stage.

The post-run stage (aggregates and statistics) is brought up to date whenever the catalog
says it is stale, not only when this run computed batches: its freshness is a digest of the
done units' signatures, the parameters and the post-run templates, stored in
``finalize_state`` in the same transaction as the aggregates. A run killed between its last
unit and that commit leaves the digest behind, and the next run rebuilds the aggregates even
though no unit is left to compute.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import duckdb

from .. import db, machine, results
from ..analysis.pipelines import Pipeline
from ..budget import mb, split
from ..errors import Interrupted
from ..settings import Settings
from ..sqlrender import templates_digest
from . import runs
from .executor import make_executor
from .guards import GuardConfig, Guards
from .live import RunDisplay
from .planning import Plan
from .resources import PeakSampler
from .runner import Engine, RunResult
from .status import StatusFile

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOptions:
    executor: str = "local"
    scheduler: str | None = None
    guards: GuardConfig = field(default_factory=GuardConfig)
    argv: tuple[str, ...] = ()
    quiet: bool = False
    workers: int | None = None          # dask without a scheduler: a LocalCluster of this many processes
    verbose: bool = False


def new_run_id() -> str:
    return dt.datetime.now().strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


def finalize_digest(con: duckdb.DuckDBPyConnection, pipe: Pipeline, settings: Settings) -> str:
    """What the post-run tables depend on: done units with their signatures and finish times (a unit
    rerun with an unchanged signature has new result rows too), parameters, templates."""
    units = con.execute("SELECT string_agg(security_code || '/' || date || '/' || coalesce(signature, '') || '/'"
                        " || coalesce(CAST(finished_at AS VARCHAR), ''), ','"
                        " ORDER BY date, security_code) FROM units WHERE status = 'done'").fetchone()[0]
    h = hashlib.sha256()
    for part in (units or "", json.dumps(settings.params, sort_keys=True, default=str),
                 json.dumps(settings.scenarios, sort_keys=True, default=str),
                 templates_digest(list(pipe.finalize_templates))):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:32]


def finalize_stale(con: duckdb.DuckDBPyConnection, pipe: Pipeline, settings: Settings) -> bool:
    if pipe.finalize is None:
        return False
    row = con.execute("SELECT digest FROM finalize_state WHERE pipeline = $p", {"p": pipe.name}).fetchall()
    return not row or row[0][0] != finalize_digest(con, pipe, settings)


def _finalize(con: duckdb.DuckDBPyConnection, pipe: Pipeline, settings: Settings, stage) -> dict[str, int]:
    """Aggregates, statistics and their freshness digest in one transaction."""
    with db.transaction(con):
        rows = pipe.finalize(con, settings, stage)
        con.execute("INSERT OR REPLACE INTO finalize_state VALUES ($p, $d, now()::TIMESTAMP)",
                    {"p": pipe.name, "d": finalize_digest(con, pipe, settings)})
    return rows


def publish_results(con: duckdb.DuckDBPyConnection, settings: Settings, budget, run_id: str) -> int:
    """After the batches: views over the committed files, superseded files deleted, then small
    files compacted (each step kill-safe: a later command finishes what a kill interrupted)."""
    results.heal(con)
    results.collect_garbage(con)
    work = db.connect_memory(memory_limit=mb(budget.executor), threads=settings.threads, temp_dir=settings.temp_dir)
    try:
        groups = results.compact(con, work, run_id=run_id)
    finally:
        work.close()
    if groups:
        results.heal(con)
    return groups


@contextlib.contextmanager
def ctrl_c(stop: threading.Event, interruptible: list) -> Iterator[None]:
    """First Ctrl-C: set ``stop`` and interrupt the running queries, so the batch in flight rolls
    back and the run stops cleanly (exit 3); a second Ctrl-C stops at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        log.warning("Ctrl-C: rolling back the batch in flight, then stopping (Ctrl-C again to stop at once)")
        for target in interruptible:
            try:
                target.interrupt()
            except Exception:  # noqa: BLE001 - a closed connection has nothing to interrupt
                pass

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _release_running(eng: Engine) -> None:
    """The units this run marked running and did not finish go back to pending: the run failed, not
    they (left ``running``, the next start would count them failed as if a process had died)."""
    try:
        eng.reset_running()
    except Exception:  # noqa: BLE001 - the run's own error is the one to report
        log.warning("could not set this run's running units back to pending; the next run counts them failed")


def _executor(settings: Settings, options: RunOptions, memory_limit: str, strategy: str):
    """The executor of the run with its share of the memory budget: local, or Dask (imported
    only then; see dask_executor). Locally, by-unit batches run two at a time when there are two
    threads (:class:`~duckpipe.engine.executor.LocalExecutor`); larger batches keep every thread
    busy on their own."""
    if options.executor == "dask":
        from .dask_executor import DaskExecutor
        return DaskExecutor(memory_limit=memory_limit, threads=settings.threads,
                            temp_dir=settings.temp_dir, workspace=settings.workspace,
                            scheduler=options.scheduler, workers=options.workers, verbose=options.verbose)
    in_flight = 2 if strategy == "by-unit" and settings.threads >= 2 else 1
    return make_executor(options.executor, memory_limit=memory_limit, threads=settings.threads,
                         temp_dir=settings.temp_dir, scheduler=options.scheduler, in_flight=in_flight)


def execute(con: duckdb.DuckDBPyConnection, settings: Settings, pipe: Pipeline, plan: Plan,
            signatures: dict, n_selected: int, options: RunOptions) -> RunResult:
    """Run the plan's batches, then the post-run stage when it is stale; record the run."""
    run_id = new_run_id()
    status_file = StatusFile(settings.workspace)
    budget = split(settings.memory_limit_bytes)          # one budget: catalog + executor <= the limit
    results.collect_garbage(con)                        # orphans of a killed run (views are current)
    con.execute(f"SET memory_limit = '{mb(budget.catalog)}'")
    ex = _executor(settings, options, mb(budget.executor), plan.strategy) if plan.batches else make_executor(
        "local", memory_limit=mb(budget.executor), threads=settings.threads, temp_dir=settings.temp_dir)
    runs.start_run(con, run_id, argv=list(options.argv), settings=settings.effective(),
                   machine=machine.facts(settings.workspace), strategy=plan.strategy, reason=plan.reason,
                   units_selected=n_selected, executor=ex.describe())
    eng = Engine(con, settings, pipe, ex, run_id, Guards(options.guards), status_file, quiet=options.quiet)
    eng.display = RunDisplay(quiet=options.quiet or not plan.batches)     # nothing to do: no bars
    eng.expected_s = runs.expected_stage_seconds(con) if pipe.finalize else {}
    t0 = time.perf_counter()
    if pipe.warm_up and pipe.finalize and plan.batches:        # the post-run stage will follow
        threading.Thread(target=pipe.warm_up, name="duckpipe-warm-up").start()
    interrupted, finalize_rows = False, {}
    with PeakSampler(spill_dir=settings.temp_dir) as sampler, ctrl_c(eng.guards.stop, [ex, con]):
        eng.sampler = sampler
        try:
            if plan.batches:
                with eng.stage("units") as st:
                    st.rows = eng.run(plan, signatures)
                eng.record_steps()
                with eng.stage("results") as st:
                    st.rows = publish_results(con, settings, budget, run_id)
            ex.close()                       # its memory is free before the aggregation
            con.execute(f"SET memory_limit = '{mb(budget.total)}'")
            if finalize_stale(con, pipe, settings):
                finalize_rows = _finalize(con, pipe, settings, eng.stage)
        except Exception:
            if not eng.guards.stop.is_set():
                _release_running(eng)        # a run-level failure (a full disk, the catalog): no unit's
                runs.finish_run(con, run_id, status="error", units_done=eng.done, units_failed=len(eng.failed))
                raise
            interrupted = True               # a query stopped by Ctrl-C: rolled back above
        except KeyboardInterrupt:
            interrupted = True
        finally:
            ex.close()
            eng.display.close()
        if interrupted:
            eng.reset_running()
            results.heal(con)                # views over what the run committed before Ctrl-C
        peak = sampler.overall
    result = RunResult(run_id, plan.strategy, plan.reason, n_selected, eng.done, eng.failed,
                       time.perf_counter() - t0, peak, finalize_rows, interrupted)
    state = "interrupted" if interrupted else ("failed" if eng.failed else "finished")
    runs.finish_run(con, run_id, status=state, units_done=eng.done, units_failed=len(eng.failed),
                    peak_rss_bytes=peak)
    if eng.status:
        eng.status.state = state
        eng.status.current = eng.status.stage = ""
        eng.status.elapsed_s, eng.status.eta_s = time.perf_counter() - t0, 0.0
        status_file.write(eng.status)
    if interrupted:
        raise Interrupted(f"interrupted: {eng.done} units done in run {run_id}; the batch in flight was rolled back."
                          " Run the same command again to resume.")
    return result
