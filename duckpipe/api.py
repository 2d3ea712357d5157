"""One function per command. The CLI is a thin layer over these; tests and users call them too.

Functions return dataclasses and never print. Errors are :mod:`duckpipe.errors` types.
"""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from . import catalog, db, machine, results
from .analysis import pipelines
from .engine import session
from .engine import units as unitsmod
from .engine.executor import check_executor
from .engine.guards import GuardConfig
from .engine.live import IngestWatcher
from .engine.planning import STRATEGIES, Plan
from .engine.planning import plan as make_plan
from .engine.runner import RunResult
from .engine.status import StatusFile
from .engine.units import Selection, UnitRow
from .errors import DuckpipeError, EmptyWorkspace, Interrupted, UsageError
from .settings import Settings

log = logging.getLogger(__name__)
RERUN = ("missing", "failed", "all")


# ------------------------------------------------------------------ synth / ingest

def synth(out: Path, **kwargs: Any):
    """Write synthetic raw files in the ASX layout (see :func:`duckpipe.synth.synth`)."""
    from .synth import synth as _synth
    return _synth(Path(out), **kwargs)


def ingest(settings: Settings, sources: list[Path] | None = None,
           table_globs: dict[str, str | list[str]] | None = None,
           progress=None, quiet: bool = True, *, executor: str = "local", scheduler: str | None = None,
           workers: int | None = None, verbose: bool = False):
    """Raw files -> typed store + catalog. With no SOURCE, ``[sources] paths`` of the config or ``data/raw``.

    Without a ``progress`` callback, the ingest publishes its progress in ``status.json`` (for
    ``duckpipe status``) and, on a terminal and unless ``quiet``, in a live display.
    ``executor="dask"``: one task per input file on the cluster at ``scheduler`` or on a
    LocalCluster of ``workers`` processes; this process commits each file (``ingest.remote``).
    """
    from .ingest.load import ingest as _ingest
    check_executor(executor, scheduler, workers)
    if executor == "dask":
        from .engine.dask_executor import require_dask
        require_dask()
    if not sources and not table_globs:
        configured = settings.sources_cfg.get("paths") or []
        sources = [Path(p) if Path(p).is_absolute() else settings.workspace / p for p in configured] \
            or [settings.workspace / "data" / "raw"]
    # before opening: a mistyped source or glob must not leave an empty workspace behind
    from .ingest.rawfiles import discover
    discover([Path(s) for s in sources or []], table_globs or None, settings.profile_def)
    stop = threading.Event()                 # first Ctrl-C: roll back the file in flight, stop (exit 3)
    interruptible: list = []                 # the handler is in place before the catalog opens
    with session.ctrl_c(stop, interruptible), catalog.open_workspace(settings, "ingest") as con:
        interruptible.append(con)
        watch = progress if progress is not None else IngestWatcher(settings.workspace, quiet=quiet)
        state = "interrupted"
        ex = None
        try:
            elsewhere = None
            if executor == "dask":
                from .engine.dask_executor import DaskExecutor
                from .ingest.remote import on_executor
                ex = DaskExecutor(memory_limit=settings.memory_limit, threads=settings.threads,
                                  temp_dir=settings.temp_dir, workspace=settings.workspace, scheduler=scheduler,
                                  workers=workers, verbose=verbose)
                interruptible.append(ex)
                elsewhere = on_executor(ex, settings, settings.memory_limit, settings.threads)
            summary = _ingest(con, settings, [Path(s) for s in sources or []], table_globs or None, watch,
                              stop=stop, elsewhere=elsewhere)
            state = "failed" if summary.failed else "finished"
            return summary
        except (Exception, KeyboardInterrupt) as exc:
            if isinstance(exc, DuckpipeError) or not (stop.is_set() or isinstance(exc, KeyboardInterrupt)):
                state = "failed"
                raise
            raise Interrupted("interrupted: the files committed so far stay. Run the same command again"
                              " to resume.") from None
        finally:
            if ex is not None:
                ex.close()
            if progress is None:
                watch.finish(state)


# ------------------------------------------------------------------ units

@dataclass
class UnitsView:
    rows: list[UnitRow]            # the selected rows
    total: int                     # all units known


def _prepare_units(con: duckdb.DuckDBPyConnection, pipe: pipelines.Pipeline, settings: Settings,
                   write: bool) -> tuple[list[UnitRow], dict]:
    if not unitsmod.discover(con):
        raise EmptyWorkspace(f"no data in {settings.workspace}: run 'duckpipe ingest' first")
    return unitsmod.current_rows(con, pipe.tables_read, pipe.digest(settings.profile_def), settings.params,
                                 settings.scenarios, write=write)


def units(settings: Settings, selection: Selection = Selection(), pipeline: str = "analysis") -> UnitsView:
    """List units with their checkpoint status, filtered."""
    pipe = pipelines.get(pipeline)
    with catalog.open_workspace(settings, "units", create=False) as con:
        rows, _ = _prepare_units(con, pipe, settings, write=True)
        known = {r.unit.security_code for r in rows}
        return UnitsView(unitsmod.select(rows, selection, known), len(rows))


# ------------------------------------------------------------------ run

@dataclass
class DryRun:
    plan: Plan
    units: list[UnitRow]
    settings: dict[str, dict[str, Any]]
    sql: str


def _to_run(rows: list[UnitRow], rerun: str) -> list[UnitRow]:
    wanted = {"missing": ("pending", "failed", "stale", "running"), "failed": ("failed", "running"),
              "all": unitsmod.STATUSES}[rerun]
    return [r for r in rows if r.status in wanted]


def _unit_rows_estimate(con: duckdb.DuckDBPyConnection, tables: tuple[str, ...]) -> dict:
    rows = con.execute("SELECT security_code, date, sum(rows) FROM store_partitions"
                       " WHERE list_contains($t, table_name) GROUP BY ALL", {"t": list(tables)}).fetchall()
    return {(int(s), d): int(n) for s, d, n in rows}


def _validate_run_options(strategy: str, rerun: str, executor: str, scheduler: str | None = None,
                          workers: int | None = None) -> None:
    if strategy not in STRATEGIES:
        raise UsageError(f"--strategy: {strategy!r} is not one of {'|'.join(STRATEGIES)}")
    if rerun not in RERUN:
        raise UsageError(f"--rerun: {rerun!r} is not one of {'|'.join(RERUN)}")
    check_executor(executor, scheduler, workers)
    if executor == "dask":
        from .engine.dask_executor import require_dask
        require_dask()


def _planning_memory(settings: Settings, executor: str, scheduler: str | None, workers: int | None) -> int:
    """The memory a batch may use: on a LocalCluster of N workers each task's DuckDB gets 1/(N+1)
    of --memory-limit (the coordinator keeps a share); elsewhere --memory-limit."""
    if executor == "dask" and not scheduler:
        from .engine.dask_executor import local_task_memory_bytes
        return local_task_memory_bytes(settings.memory_limit_bytes, workers)
    return settings.memory_limit_bytes


def run(settings: Settings, selection: Selection = Selection(), *, strategy: str = "auto",
        rerun: str = "missing", fresh: bool = False, yes: bool = False, dry_run: bool = False,
        executor: str = "local", scheduler: str | None = None, guards: GuardConfig | None = None,
        pipeline: str = "analysis", argv: list[str] | None = None, quiet: bool = False,
        workers: int | None = None, verbose: bool = False) -> RunResult | DryRun:
    """Run every selected unit not yet done, then the post-run aggregation (SPEC §1, §4)."""
    _validate_run_options(strategy, rerun, executor, scheduler, workers)
    pipe = pipelines.get(pipeline)
    if dry_run:
        return _dry_run(settings, selection, pipe, strategy, rerun, fresh,
                        _planning_memory(settings, executor, scheduler, workers))
    if fresh and not yes:
        raise UsageError("--fresh drops all checkpoints and results: confirm with --yes")
    with catalog.open_workspace(settings, "run", create=False) as con:
        results.ensure(con, pipe)
        rows, sigs = _prepare_units(con, pipe, settings, write=True)
        selected = unitsmod.select(rows, selection, {r.unit.security_code for r in rows})
        if fresh:
            _drop_results(con, pipe)
            rows, sigs = _prepare_units(con, pipe, settings, write=True)
            selected = unitsmod.select(rows, selection, {r.unit.security_code for r in rows})
        todo = _to_run(selected, rerun)
        the_plan = make_plan([r.unit for r in todo], strategy, _unit_rows_estimate(con, pipe.tables_read),
                             _planning_memory(settings, executor, scheduler, workers))
        options = session.RunOptions(executor, scheduler, guards or GuardConfig(), tuple(argv or ()), quiet,
                                     workers, verbose)
        return session.execute(con, settings, pipe, the_plan, sigs, len(selected), options)


def _drop_results(con: duckdb.DuckDBPyConnection, pipe: pipelines.Pipeline) -> None:
    """``--fresh``: no result file committed, every unit pending; then the views and files follow."""
    with db.transaction(con):
        results.drop_all(con)
        unitsmod.reset_all(con)
    results.heal(con)


def _dry_run(settings, selection, pipe, strategy, rerun, fresh, memory_bytes: int | None = None) -> DryRun:
    with catalog.open_read_only(settings) as con:
        rows, _ = _prepare_units(con, pipe, settings, write=False)
        selected = unitsmod.select(rows, selection, {r.unit.security_code for r in rows})
        todo = selected if fresh else _to_run(selected, rerun)
        the_plan = make_plan([r.unit for r in todo], strategy, _unit_rows_estimate(con, pipe.tables_read),
                             memory_bytes or settings.memory_limit_bytes)
    first = [u.key for u in the_plan.batches[0]] if the_plan.batches else []
    return DryRun(the_plan, todo, settings.effective(), _render_batch_sql(pipe, first, settings))


def _render_batch_sql(pipe: pipelines.Pipeline, units: list, settings: Settings) -> str:
    """The SQL of the first batch as it would run (the analysis may render it more precisely)."""
    if pipe.name == "analysis":
        from .analysis import steps as analysis
        if hasattr(analysis, "render_batch_sql"):
            return analysis.render_batch_sql(units, settings.params, settings.scenarios, settings.profile_def)
    from .sqlrender import render
    return "\n".join(f"-- {t}\n" + render(t, params=settings.params, scenarios=settings.scenarios)
                     for t in pipe.templates)


# ------------------------------------------------------------------ status / report / doctor

@dataclass
class Status:
    live: bool
    status: dict[str, Any] | None = None
    last_run: dict[str, Any] | None = None
    unit_counts: dict[str, int] = field(default_factory=dict)
    holder: dict[str, Any] | None = None   # pid and command of the writer holding the workspace
    workers: dict[str, int] = field(default_factory=dict)      # units of the last run per Dask worker


def status(settings: Settings) -> Status:
    """Live progress from the status file while a command holds the workspace, else from the database."""
    sf = StatusFile(settings.workspace)
    holder = db.writer_info(settings.workspace)      # the first ingest holds it before the database exists
    if holder is not None:
        return Status(live=True, status=sf.read(), holder=holder)
    if not settings.db_path.exists():
        raise EmptyWorkspace(f"no workspace database in {settings.workspace}: nothing has run yet")
    with catalog.open_read_only(settings) as con:
        last = con.execute("SELECT run_id, started_at, finished_at, status, strategy, units_selected, units_done,"
                           " units_failed, peak_rss_bytes FROM runs ORDER BY started_at DESC LIMIT 1").fetchall()
        cols = ["run_id", "started_at", "finished_at", "status", "strategy", "units_selected", "units_done",
                "units_failed", "peak_rss_bytes"]
        counts = dict(con.execute("SELECT status, count(*) FROM units GROUP BY status").fetchall())
        counts_by_run = dict(con.execute("SELECT run_id, count(*) FROM units WHERE status = 'done'"
                                         " GROUP BY run_id").fetchall())
        workers = dict(con.execute("SELECT worker, count(*) FROM units WHERE run_id = $r AND worker IS NOT NULL"
                                   " AND status = 'done' GROUP BY worker ORDER BY worker",
                                   {"r": last[0][0] if last else None}).fetchall())
    last_run = dict(zip(cols, last[0])) if last else None
    if last_run and last_run["status"] == "running":      # no writer holds the lock: that process died
        last_run["status"] = "killed (its process died; the next run resumes)"
        last_run["units_done"] = counts_by_run.get(last_run["run_id"], 0)
    if "running" in counts:          # left by a dead process: failed, as the next run will record them
        counts["failed"] = counts.get("failed", 0) + counts.pop("running")
    return Status(live=False, status=sf.read(), last_run=last_run,
                  unit_counts={k: int(v) for k, v in counts.items()}, workers={k: int(v) for k, v in workers.items()})


def report(settings: Settings, out: Path | None = None, selection: Selection = Selection()):
    """Write report.html, report.md, performance.md and CSV exports; None when the selection
    matches no unit (nothing to do, as for ``run``)."""
    from .report.build import build_report
    with catalog.open_workspace(settings, "report", create=False) as con:
        results.ensure(con, pipelines.get("analysis"))
        keys = None
        if not selection.is_empty():
            rows, _ = _prepare_units(con, pipelines.get("analysis"), settings, write=False)
            keys = [r.unit.key for r in unitsmod.select(rows, selection)]
            if not keys:
                return None
        return build_report(con, settings, out, keys)


@dataclass
class Doctor:
    machine: dict[str, Any]
    settings: dict[str, dict[str, Any]]
    recommended: dict[str, str]
    versions: dict[str, str]
    database: dict[str, Any]
    warnings: list[str]
    store: Any = None                # store_check.StoreReport; None without a catalog
    repair: Any = None               # store_check.RepairResult after --repair


def doctor(settings: Settings, *, full: bool | None = None, repair: bool = False) -> Doctor:
    """Machine facts, effective settings with sources, versions and workspace health."""
    import platform

    import pyarrow

    from . import __version__
    facts = machine.facts(settings.workspace)
    warnings = []
    cores = facts["physical_cores"] or facts["logical_cores"] or 1
    if settings.threads > (facts["logical_cores"] or cores):
        warnings.append(f"threads {settings.threads} is above the {facts['logical_cores']} logical cores")
    if settings.workspace.is_dir() and not os.access(settings.workspace, os.W_OK):
        warnings.append(f"workspace {settings.workspace} is not writable: ingest, units, run and report need a"
                        " writable copy")
    if settings.memory_limit_bytes > facts["total_memory_bytes"] * 0.8:
        warnings.append("memory limit is above 80% of RAM: the machine may swap")
    rec = {"threads": str(cores), "memory_limit": machine.default_memory_limit(),
           "temp_dir": f"{settings.workspace / 'tmp'} (on a disk with free space >= 2x the largest input)"}
    versions = {"duckpipe": __version__, "duckdb": duckdb.__version__, "pyarrow": pyarrow.__version__,
                "python": platform.python_version()}
    from .ingest import verify as store_check
    health = _db_health(settings)
    fixed = None
    if repair:
        checked, fixed = store_check.repair_workspace(settings, full)
    else:
        checked = store_check.check_workspace(settings, full) if health.get("opens") else None
    return Doctor(facts, settings.effective(), rec, versions, health, warnings, checked, fixed)


def _db_health(settings: Settings) -> dict[str, Any]:
    if not settings.db_path.exists():
        return {"path": str(settings.db_path), "exists": False}
    try:
        with catalog.open_read_only(settings) as con:
            size = con.execute("SELECT database_size FROM pragma_database_size()").fetchone()[0]
            tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
            counts = dict(con.execute("SELECT status, count(*) FROM units GROUP BY status").fetchall()) \
                if "units" in tables else {}
        return {"path": str(settings.db_path), "exists": True, "opens": True, "size": size,
                "tables": len(tables), "units": counts}
    except DuckpipeError as exc:
        return {"path": str(settings.db_path), "exists": True, "opens": False, "error": exc.message}
    except duckdb.Error as exc:
        return {"path": str(settings.db_path), "exists": True, "opens": False, "error": str(exc)}
