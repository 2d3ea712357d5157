"""One function per command. The CLI is a thin layer over these; tests and users call them too.

Functions return dataclasses and never print. Errors are :mod:`duckpipe.errors` types.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import duckdb

from . import db, machine, pipelines, units as unitsmod
from .engine import STRATEGIES, Engine, Plan, RunResult, plan as make_plan
from .errors import DuckpipeError, EmptyWorkspace, Interrupted, UsageError
from .executor import check_executor, make_executor
from .progress import GuardConfig, Guards, PeakSampler, StatusFile
from .settings import Settings
from .units import Selection, UnitRow

log = logging.getLogger(__name__)
RERUN = ("missing", "failed", "all")


# ------------------------------------------------------------------ synth / ingest

def synth(out: Path, **kwargs: Any):
    """Write synthetic raw files in the ASX layout (see :func:`duckpipe.synth.synth`)."""
    from .synth import synth as _synth
    return _synth(Path(out), **kwargs)


def ingest(settings: Settings, sources: list[Path] | None = None, table_globs: dict[str, str] | None = None,
           progress=None):
    """Raw files -> typed store + catalog. With no SOURCE, ``[sources] paths`` of the config or ``data/raw``."""
    from .ingest import ingest as _ingest
    if not sources and not table_globs:
        configured = settings.sources_cfg.get("paths") or []
        sources = [Path(p) if Path(p).is_absolute() else settings.workspace / p for p in configured] \
            or [settings.workspace / "data" / "raw"]
    stop = threading.Event()                 # first Ctrl-C: roll back the file in flight, stop (exit 3)
    with db.open_workspace(settings, "ingest") as con, _ctrl_c(stop, [con]):
        try:
            return _ingest(con, settings, [Path(s) for s in sources or []], table_globs or None, progress,
                           stop=stop)
        except (Exception, KeyboardInterrupt) as exc:
            if isinstance(exc, DuckpipeError) or not (stop.is_set() or isinstance(exc, KeyboardInterrupt)):
                raise
            raise Interrupted("interrupted: the files committed so far stay; run the same command again"
                              " to resume") from None


# ------------------------------------------------------------------ units

@dataclass
class UnitsView:
    rows: list[UnitRow]            # the selected rows
    total: int                     # all units known


def _prepare_units(con: duckdb.DuckDBPyConnection, pipe: pipelines.Pipeline, settings: Settings,
                   write: bool) -> tuple[list[UnitRow], dict]:
    if not unitsmod.discover(con):
        raise EmptyWorkspace(f"no data in {settings.workspace}: run 'duckpipe ingest' first")
    return unitsmod.current_rows(con, pipe.tables_read, pipe.digest(), settings.params, settings.scenarios,
                                 write=write)


def units(settings: Settings, selection: Selection = Selection(), pipeline: str = "analysis") -> UnitsView:
    """List units with their checkpoint status, filtered."""
    pipe = pipelines.get(pipeline)
    with db.open_workspace(settings, "units", create=False) as con:
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


def _validate_run_options(strategy: str, rerun: str, executor: str) -> None:
    if strategy not in STRATEGIES:
        raise UsageError(f"--strategy: {strategy!r} is not one of {'|'.join(STRATEGIES)}")
    if rerun not in RERUN:
        raise UsageError(f"--rerun: {rerun!r} is not one of {'|'.join(RERUN)}")
    check_executor(executor)


def run(settings: Settings, selection: Selection = Selection(), *, strategy: str = "auto",
        rerun: str = "missing", fresh: bool = False, yes: bool = False, dry_run: bool = False,
        executor: str = "local", scheduler: str | None = None, guards: GuardConfig | None = None,
        pipeline: str = "analysis", argv: list[str] | None = None, quiet: bool = False) -> RunResult | DryRun:
    """Run every selected unit not yet done, then the post-run aggregation (SPEC §1, §4)."""
    _validate_run_options(strategy, rerun, executor)
    pipe = pipelines.get(pipeline)
    if dry_run:
        return _dry_run(settings, selection, pipe, strategy, rerun, fresh)
    if fresh and not yes:
        raise UsageError("--fresh drops all checkpoints and results: confirm with --yes")
    with db.open_workspace(settings, "run", create=False) as con:
        if pipe.catalog_template:
            db.run_script(con, pipe.catalog_template)
        rows, sigs = _prepare_units(con, pipe, settings, write=True)
        selected = unitsmod.select(rows, selection, {r.unit.security_code for r in rows})
        if fresh:
            _drop_results(con, pipe)
            rows, sigs = _prepare_units(con, pipe, settings, write=True)
            selected = unitsmod.select(rows, selection, {r.unit.security_code for r in rows})
        todo = _to_run(selected, rerun)
        the_plan = make_plan([r.unit for r in todo], strategy, _unit_rows_estimate(con, pipe.tables_read),
                             settings.memory_limit_bytes)
        return _execute(con, settings, pipe, the_plan, sigs, len(selected), executor, scheduler,
                        guards or GuardConfig(), argv or [], quiet)


@contextlib.contextmanager
def _ctrl_c(stop: threading.Event, interruptible: list) -> Iterator[None]:
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


def _drop_results(con: duckdb.DuckDBPyConnection, pipe: pipelines.Pipeline) -> None:
    from .sqlrender import quote_ident
    with db.transaction(con):
        for t in pipe.result_tables:
            con.execute(f"DELETE FROM {quote_ident(t)}")
        con.execute("UPDATE units SET status = 'pending', signature = NULL, error = NULL, attempts = 0,"
                    " started_at = NULL, finished_at = NULL, duration_s = NULL, rows = NULL, run_id = NULL")


def _execute(con, settings, pipe, the_plan: Plan, sigs, n_selected, executor_name, scheduler,
             guard_cfg, argv, quiet) -> RunResult:
    run_id = dt.datetime.now().strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    status_file = StatusFile(settings.workspace)
    ex = make_executor(executor_name, memory_limit=settings.memory_limit, threads=settings.threads,
                       temp_dir=settings.temp_dir, scheduler=scheduler)
    con.execute("INSERT INTO runs (run_id, started_at, status, argv, settings, machine, strategy, strategy_reason,"
                " units_selected, units_done, units_failed) VALUES ($r, now()::TIMESTAMP, 'running', $a, $s, $m,"
                " $st, $why, $n, 0, 0)",
                {"r": run_id, "a": json.dumps(argv), "s": json.dumps(settings.effective(), default=str),
                 "m": json.dumps(machine.facts(settings.workspace)), "st": the_plan.strategy,
                 "why": the_plan.reason, "n": n_selected})
    eng = Engine(con, settings, pipe, ex, run_id, Guards(guard_cfg), status_file, quiet=quiet)
    t0 = time.perf_counter()
    interrupted, finalize_rows = False, {}
    with PeakSampler(spill_dir=settings.temp_dir) as sampler, _ctrl_c(eng.guards.stop, [ex, con]):
        eng.sampler = sampler
        try:
            if the_plan.batches:
                with eng.stage("units") as st:
                    st.rows = eng.run(the_plan, sigs)
                eng.record_steps()
                ex.close()                   # its memory is free before the aggregation
                if pipe.finalize:
                    with db.transaction(con):
                        finalize_rows = pipe.finalize(con, settings, eng.stage)
        except Exception:
            if not eng.guards.stop.is_set():
                con.execute("UPDATE runs SET finished_at = now()::TIMESTAMP, status = 'error' WHERE run_id = $r",
                            {"r": run_id})
                raise
            interrupted = True               # a query stopped by Ctrl-C: rolled back above
        except KeyboardInterrupt:
            interrupted = True
        finally:
            ex.close()
        if interrupted:
            eng.reset_running()
        peak = sampler.overall
    result = RunResult(run_id, the_plan.strategy, the_plan.reason, n_selected, eng.done, eng.failed,
                       time.perf_counter() - t0, peak, finalize_rows, interrupted)
    state = "interrupted" if interrupted else ("failed" if eng.failed else "finished")
    con.execute("UPDATE runs SET finished_at = now()::TIMESTAMP, status = $st, units_done = $d, units_failed = $f,"
                " peak_rss_bytes = $p WHERE run_id = $r",
                {"st": state, "d": eng.done, "f": len(eng.failed), "p": peak, "r": run_id})
    if eng.status:
        eng.status.state = state
        eng.status.current = ""
        status_file.write(eng.status)
    if interrupted:
        raise Interrupted(f"interrupted: {eng.done} units done in run {run_id}; the batch in flight was rolled back."
                          " Run the same command again to resume.")
    return result


def _dry_run(settings, selection, pipe, strategy, rerun, fresh) -> DryRun:
    with db.open_read_only(settings) as con:
        rows, _ = _prepare_units(con, pipe, settings, write=False)
        selected = unitsmod.select(rows, selection, {r.unit.security_code for r in rows})
        todo = selected if fresh else _to_run(selected, rerun)
        the_plan = make_plan([r.unit for r in todo], strategy, _unit_rows_estimate(con, pipe.tables_read),
                             settings.memory_limit_bytes)
    first = [u.key for u in the_plan.batches[0]] if the_plan.batches else []
    return DryRun(the_plan, todo, settings.effective(), _render_batch_sql(pipe, first, settings))


def _render_batch_sql(pipe: pipelines.Pipeline, units: list, settings: Settings) -> str:
    """The SQL of the first batch as it would run (the analysis may render it more precisely)."""
    if pipe.name == "analysis":
        from . import analysis
        if hasattr(analysis, "render_batch_sql"):
            return analysis.render_batch_sql(units, settings.params, settings.scenarios)
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


def status(settings: Settings) -> Status:
    """Live progress from the status file while a run holds the workspace, else from the database."""
    sf = StatusFile(settings.workspace)
    if not settings.db_path.exists():
        raise EmptyWorkspace(f"no workspace database in {settings.workspace}: nothing has run yet")
    if db.writer_active(settings.workspace):
        return Status(live=True, status=sf.read())
    with db.open_read_only(settings) as con:
        last = con.execute("SELECT run_id, started_at, finished_at, status, strategy, units_selected, units_done,"
                           " units_failed, peak_rss_bytes FROM runs ORDER BY started_at DESC LIMIT 1").fetchall()
        cols = ["run_id", "started_at", "finished_at", "status", "strategy", "units_selected", "units_done",
                "units_failed", "peak_rss_bytes"]
        counts = dict(con.execute("SELECT status, count(*) FROM units GROUP BY status").fetchall())
    return Status(live=False, status=sf.read(), last_run=dict(zip(cols, last[0])) if last else None,
                  unit_counts={k: int(v) for k, v in counts.items()})


def report(settings: Settings, out: Path | None = None, selection: Selection = Selection()):
    """Write report.html, report.md, performance.md and CSV exports."""
    from .report import build_report
    with db.open_workspace(settings, "report", create=False) as con:
        keys = None
        if not selection.is_empty():
            rows, _ = _prepare_units(con, pipelines.get("analysis"), settings, write=False)
            keys = [r.unit.key for r in unitsmod.select(rows, selection)]
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
    from . import store_check
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
        with db.open_read_only(settings) as con:
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
