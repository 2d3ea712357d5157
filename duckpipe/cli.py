"""The ``duckpipe`` command line: parse, call :mod:`duckpipe.api`, print, map errors to exit codes.

No SQL and no DuckDB here. Every command accepts the common options after its name
(``duckpipe run --memory-limit 4GB``); options default to None so that the environment,
``duckpipe.toml`` and machine defaults show through (see :mod:`duckpipe.settings`).
"""
from __future__ import annotations

import functools
import inspect
import json
import logging
import os
import signal
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from . import api
from .db import is_interrupt
from .engine.guards import GuardConfig
from .engine.live import describe, describe_last, setup_logging
from .engine.units import parse_selection
from .errors import DuckpipeError, EnvironmentFault, UsageError
from .settings import Settings, check_guards, resolve

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Out-of-core analysis of exchange order and trade files with embedded DuckDB.")
log = logging.getLogger("duckpipe")

Workspace = Annotated[Optional[Path], typer.Option("--workspace", help="Workspace folder (default: current directory).")]
Config = Annotated[Optional[Path], typer.Option("--config", help="Config file (default: duckpipe.toml in the workspace).")]
MemoryLimit = Annotated[Optional[str], typer.Option("--memory-limit", help="DuckDB memory limit: 512MB, 4GB, 4GiB.")]
Threads = Annotated[Optional[int], typer.Option("--threads", help="DuckDB threads (default: physical cores).")]
TempDir = Annotated[Optional[Path], typer.Option("--temp-dir", help="Spill directory (default: <workspace>/tmp).")]
Verbose = Annotated[bool, typer.Option("-v", "--verbose", help="Debug logging and tracebacks.")]
Quiet = Annotated[bool, typer.Option("-q", "--quiet", help="Warnings and errors only.")]
Securities = Annotated[Optional[str], typer.Option("--securities", help="e.g. 110621,85603")]
Dates = Annotated[Optional[str], typer.Option("--dates", help="e.g. 2024-09-02..2024-09-06,2024-09-10 (inclusive)")]
UnitsOpt = Annotated[Optional[str], typer.Option("--units", help="1-based positions in 'duckpipe units', e.g. 1-10,15")]
StatusOpt = Annotated[Optional[str], typer.Option("--status", help="pending|running|done|failed|stale")]
PipelineOpt = Annotated[str, typer.Option("--pipeline", hidden=True, help="analysis (default) or counts (engine tests, benchmarks).")]


def _settings(workspace, config, memory_limit, threads, temp_dir, verbose, quiet, sets=None,
              profile=None) -> Settings:
    setup_logging(verbose, quiet)      # through the live display's Console on a terminal
    settings = resolve(workspace=workspace, config=config, memory_limit=memory_limit, threads=threads,
                       temp_dir=temp_dir, sets=sets, profile=profile)
    cores = os.cpu_count() or 1
    if settings.threads > cores:
        log.warning("--threads %d is above the %d cores of this machine", settings.threads, cores)
    return settings


ProfileOpt = Annotated[Optional[str], typer.Option("--profile", help="Input profile (default: asx).")]
COMMON = [  # the options every workspace command accepts after its name (SPEC §1), declared once
    inspect.Parameter("workspace", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Workspace),
    inspect.Parameter("config", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Config),
    inspect.Parameter("memory_limit", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=MemoryLimit),
    inspect.Parameter("threads", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Threads),
    inspect.Parameter("temp_dir", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=TempDir),
    inspect.Parameter("profile", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=ProfileOpt),
    inspect.Parameter("verbose", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=Verbose),
    inspect.Parameter("quiet", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=Quiet),
]


def workspace_command(fn: Callable) -> Callable:
    """Give a command the common options and call it with ``settings`` resolved from them
    (and from ``--set`` when the command has it); ``verbose`` and ``quiet`` are passed on too
    when the command asks for them."""
    sig = inspect.signature(fn)
    hints = typing.get_type_hints(fn, include_extras=True)      # this module postpones annotations
    own = [p.replace(annotation=hints.get(p.name, p.annotation)) for p in sig.parameters.values()
           if p.name not in ("settings", "verbose", "quiet")]
    wants = set(sig.parameters)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        common = {p.name: kwargs.pop(p.name, p.default) for p in COMMON}
        settings = _settings(common["workspace"], common["config"], common["memory_limit"], common["threads"],
                             common["temp_dir"], common["verbose"], common["quiet"], sets=kwargs.get("set_"),
                             profile=common["profile"])
        kwargs.update({k: common[k] for k in ("verbose", "quiet") if k in wants})
        return fn(*args, settings=settings, **kwargs)

    wrapper.__signature__ = sig.replace(parameters=own + COMMON, return_annotation=None)
    wrapper.__annotations__ = {p.name: p.annotation for p in own + COMMON}
    return wrapper


def handle_errors(fn: Callable) -> Callable:
    """Map library errors to 'Error: ...' and their exit code; no traceback for user mistakes."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DuckpipeError as exc:
            typer.echo(f"Error: {exc.message}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            typer.echo("Error: interrupted. Run the same command again to resume.", err=True)
            raise typer.Exit(3) from None
        except (typer.Exit, typer.Abort):
            raise
        except OSError as exc:     # the machine in the way (disk full, permissions): not a bug
            if kwargs.get("verbose"):
                raise
            where = f": {exc.filename}" if exc.filename else ""
            typer.echo(f"Error: {exc.strerror or exc}{where}", err=True)
            raise typer.Exit(2) from None
        except Exception as exc:   # noqa: BLE001 - a bug: one line, traceback only with -v
            if is_interrupt(exc):  # Ctrl-C inside a query before the command's own handler took over
                typer.echo("Error: interrupted. Run the same command again to resume.", err=True)
                raise typer.Exit(3) from None
            if kwargs.get("verbose"):
                raise
            typer.echo(f"Unexpected error ({type(exc).__name__}): {exc}. This is a bug; rerun with -v for"
                       " the traceback.", err=True)
            raise typer.Exit(1) from None
    return wrapper


def out(text: str = "") -> None:
    """A line to stdout. Once its reader has gone (`duckpipe units | head -1`) the rest of the
    output is dropped and the command finishes its work as it would have."""
    try:
        typer.echo(text)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())       # the final flush must not fail either
        os.close(devnull)


@app.command()
@handle_errors
def synth(out_dir: Annotated[Path, typer.Argument(metavar="OUT", help="Folder to write the raw layout into.")],
          securities: Annotated[int, typer.Option(min=1)] = 3, days: Annotated[int, typer.Option(min=1)] = 2,
          orders_per_unit: Annotated[int, typer.Option(min=1)] = 500, seed: int = 1,
          faults: Annotated[bool, typer.Option(help="Inject bad rows and write faults.json.")] = False,
          gzip: Annotated[bool, typer.Option(help="Write .csv.gz files.")] = False,
          verbose: Verbose = False, quiet: Quiet = False) -> None:
    """Write realistic synthetic raw files in the ASX layout (deterministic per seed)."""
    _settings(None, None, None, None, None, verbose, quiet)
    s = api.synth(out_dir, securities=securities, days=days, orders_per_unit=orders_per_unit, seed=seed,
                  faults=faults, gzip=gzip)
    out(f"wrote {len(s.files)} files, {s.bytes_written / 1e6:,.1f} MB in {s.seconds:.1f}s to {s.out}")
    out("rows: " + ", ".join(f"{k} {v:,}" for k, v in s.rows.items()))
    if s.faults:
        out(f"{len(s.faults)} faults injected, listed in {s.out / 'faults.json'}")


@app.command()
@handle_errors
@workspace_command
def ingest(sources: Annotated[Optional[list[Path]], typer.Argument(metavar="[SOURCE]...", help="Folders with orders/ trades/ nbbo/ ... (default: data/raw)")] = None,
           orders: Annotated[Optional[list[str]], typer.Option(help="Glob of orders files (repeatable).")] = None,
           trades: Annotated[Optional[list[str]], typer.Option(help="Glob of trades files (repeatable).")] = None,
           nbbo: Annotated[Optional[list[str]], typer.Option(help="Glob of nbbo files (repeatable).")] = None,
           session: Annotated[Optional[list[str]], typer.Option(help="Glob of session files (repeatable).")] = None,
           reference: Annotated[Optional[list[str]], typer.Option(help="Glob of reference files (repeatable).")] = None,
           participants: Annotated[Optional[list[str]], typer.Option(help="Glob of participants files (repeatable).")] = None,
           executor: Annotated[str, typer.Option(help="local|dask (dask: one task per input file)")] = "local",
           scheduler: Annotated[Optional[str], typer.Option(help="Dask scheduler address, e.g. tcp://10.0.0.5:8786.")] = None,
           workers: Annotated[Optional[int], typer.Option(help="Dask without --scheduler: a local cluster of N processes (default: physical cores).")] = None,
           *, settings: Settings, verbose: bool = False, quiet: bool = False) -> None:
    """Raw files -> typed, partitioned store + catalog (resumable per file)."""
    globs = {k: v for k, v in dict(orders=orders, trades=trades, nbbo=nbbo, session=session,
                                   reference=reference, participants=participants).items() if v}
    s = api.ingest(settings, list(sources or []), globs or None, quiet=quiet, executor=executor,
                   scheduler=scheduler, workers=workers, verbose=verbose)
    for p in s.skipped_paths:
        out(f"skipped (not an input file of the {settings.profile} layout): {p}")
    for f in s.files:
        extra = f" ({f.rows_rejected:,} rejected, {f.blank_lines:,} blank)" if f.rows_rejected or f.blank_lines else ""
        note = f" ERROR: {f.error}" if f.error else (f"  {f.note}" if getattr(f, "note", None) else "")
        out(f"{f.status:<18} {f.table:<12} {f.rows_loaded:>12,} rows{extra}  {f.path}{note}")
    mbps = s.bytes_read / 1e6 / s.seconds if s.seconds else 0.0
    out(f"ingested {len(s.files)} files: {s.rows_loaded:,} rows loaded, {s.rows_rejected:,} rejected"
        f" (see table ingest_rejects), {mbps:,.1f} MB/s, peak memory {s.peak_rss_bytes / 2**20:,.0f} MB")
    if s.failed:
        others = "; the others loaded" if len(s.failed) < len(s.files) else ""
        typer.echo(f"Error: {len(s.failed)} of {len(s.files)} files could not be read (marked failed above,"
                   f" with the reason){others}. Fix them and run ingest again.", err=True)
        raise typer.Exit(1)


@app.command("units")
@handle_errors
@workspace_command
def units_cmd(securities: Securities = None, dates: Dates = None, units: UnitsOpt = None, status: StatusOpt = None,
              pipeline: PipelineOpt = "analysis", *, settings: Settings) -> None:
    """List units (security, business date) and their checkpoint status."""
    view = api.units(settings, parse_selection(securities, dates, units, status), pipeline=pipeline)
    if not view.rows:
        out("nothing to do: no unit matches the selection")
        return
    out(f"{'#':>5}  {'security':>9}  {'date':<10}  {'status':<8}  {'tries':>5}  {'seconds':>8}  {'rows':>10}  error")
    for r in view.rows:
        dur = f"{r.duration_s:.2f}" if r.duration_s is not None else "-"
        rows = f"{r.rows:,}" if r.rows is not None else "-"
        out(f"{r.position:>5}  {r.unit.security_code:>9}  {r.unit.date.isoformat():<10}  {r.status:<8}  "
            f"{r.attempts:>5}  {dur:>8}  {rows:>10}  {(r.error or '')[:80]}")
    counts: dict[str, int] = {}
    for r in view.rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    out(f"{len(view.rows)} of {view.total} units: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))


@app.command()
@handle_errors
@workspace_command
def run(securities: Securities = None, dates: Dates = None, units: UnitsOpt = None, status: StatusOpt = None,
        strategy: Annotated[str, typer.Option(help="auto|by-unit|by-date|by-week|by-month")] = "auto",
        rerun: Annotated[str, typer.Option(help="missing (pending+failed+stale)|failed|all")] = "missing",
        fresh: Annotated[bool, typer.Option(help="Drop all checkpoints and results first.")] = False,
        yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
        dry_run: Annotated[bool, typer.Option(help="Print the plan and the SQL of the first batch; change nothing.")] = False,
        set_: Annotated[Optional[list[str]], typer.Option("--set", help="KEY=VALUE analysis parameter.")] = None,
        max_cpu: Annotated[float, typer.Option(help="Pause while other processes use more CPU (%).")] = 85.0,
        cool_every: Annotated[int, typer.Option(help="Cooling break every N batches (0 = off).")] = 0,
        cool_seconds: Annotated[float, typer.Option(help="Length of a cooling break.")] = 0.0,
        executor: Annotated[str, typer.Option(help="local|dask")] = "local",
        scheduler: Annotated[Optional[str], typer.Option(help="Dask scheduler address, e.g. tcp://10.0.0.5:8786.")] = None,
        workers: Annotated[Optional[int], typer.Option(help="Dask without --scheduler: a local cluster of N processes (default: physical cores).")] = None,
        pipeline: PipelineOpt = "analysis", *, settings: Settings, verbose: bool = False, quiet: bool = False) -> None:
    """Run the analysis for every selected unit not yet done, then the aggregation."""
    selection = parse_selection(securities, dates, units, status)
    if fresh and not yes and not dry_run:
        if not sys.stdin.isatty() or not typer.confirm("--fresh drops all checkpoints and results. Continue?"):
            raise UsageError("--fresh needs confirmation: answer yes at the prompt or pass --yes")
        yes = True
    check_guards(max_cpu, cool_every, cool_seconds)
    guards = GuardConfig(max_cpu=max_cpu, cool_every=cool_every, cool_seconds=cool_seconds)
    result = api.run(settings, selection, strategy=strategy, rerun=rerun, fresh=fresh, yes=yes, dry_run=dry_run,
                     executor=executor, scheduler=scheduler, guards=guards, pipeline=pipeline,
                     argv=sys.argv, quiet=quiet, workers=workers, verbose=verbose)
    if isinstance(result, api.DryRun):
        _print_dry_run(result)
        return
    if result.selected == 0 or (not result.done and not result.failed):
        out("nothing to do: every selected unit is done" if result.selected else "nothing to do: no unit matches the selection")
        return
    out(f"run {result.run_id}: {result.done} units done, {len(result.failed)} failed in {result.seconds:.1f}s"
        f" ({result.strategy}; peak memory {result.peak_rss_bytes / 2**20:,.0f} MB)")
    if result.failed:
        for unit, err in result.failed[:10]:
            out(f"  failed {unit}: {err[:200]}")
        typer.echo(f"Error: {len(result.failed)} unit(s) failed; fix and rerun with --rerun failed", err=True)
        raise typer.Exit(1)


def _print_dry_run(d: api.DryRun) -> None:
    out(f"dry run: {len(d.units)} units to run in {len(d.plan.batches)} batches")
    out(f"strategy: {d.plan.strategy} ({d.plan.reason})")
    for name, v in d.settings.items():
        out(f"  {name} = {json.dumps(v['value'], default=str)}  [{v['source']}]")
    for i, b in enumerate(d.plan.batches[:10], 1):
        out(f"  batch {i}: {len(b)} units: {', '.join(map(str, b[:5]))}{' ...' if len(b) > 5 else ''}")
    if len(d.plan.batches) > 10:
        out(f"  ... {len(d.plan.batches) - 10} more batches")
    if d.plan.batches:
        out("SQL of the first batch:")
        out(d.sql)


@app.command("status")
@handle_errors
@workspace_command
def status_cmd(*, settings: Settings) -> None:
    """Progress of the command holding the workspace (ingest or run), else the last outcome."""
    st = api.status(settings)
    if st.live:
        for line in describe(st.status, st.holder):
            out(line)
        for worker, n in sorted(((st.status or {}).get("workers") or {}).items()):
            out(f"  worker {worker}: {n} units")
        return
    for line in describe_last(st.status):
        out(line)
    if st.last_run:
        r = st.last_run
        finished = f", finished {r['finished_at']}" if r["finished_at"] else ""
        out(f"no run is active. Last run {r['run_id']}: {r['status']}, started {r['started_at']}{finished},"
            f" {r['units_done']} done, {r['units_failed']} failed ({r['strategy']})")
    else:
        out("no run is active and none has run yet")
    if st.unit_counts:
        out("units: " + ", ".join(f"{v} {k}" for k, v in sorted(st.unit_counts.items())))
    for worker, n in st.workers.items():
        out(f"  worker {worker}: {n} units done in the last run")


@app.command()
@handle_errors
@workspace_command
def report(out_dir: Annotated[Optional[Path], typer.Option("--out", help="Output folder (default: <workspace>/reports).")] = None,
           securities: Securities = None, dates: Dates = None, units: UnitsOpt = None, status: StatusOpt = None,
           *, settings: Settings) -> None:
    """Self-contained HTML report, Markdown summary, CSV exports and a performance report."""
    r = api.report(settings, out_dir, parse_selection(securities, dates, units, status))
    if r is None:
        out("nothing to do: no unit matches the selection")
        return
    for w in r.warnings:
        out(f"warning: {w}")
    out(f"report: {r.html}")
    out(f"summary: {r.markdown}\nperformance: {r.performance}\nCSV exports: {len(r.csv_files)} files in {r.out_dir / 'csv'}")


@app.command()
@handle_errors
@workspace_command
def doctor(full: Annotated[Optional[bool], typer.Option("--full/--quick", help="Read every store row and compare checksums (default: only when the store is under 1 GiB).")] = None,
           repair: Annotated[bool, typer.Option("--repair", help="Forget the input files of damaged store files, so that the next ingest re-reads them.")] = False,
           *, settings: Settings) -> None:
    """Machine facts, recommended settings, versions and workspace health (exit 1 if the store is damaged)."""
    d = api.doctor(settings, full=full, repair=repair)
    m = d.machine
    out("machine:")
    out(f"  cores: {m['physical_cores']} physical, {m['logical_cores']} logical; RAM {m['total_memory_bytes'] / 2**30:.1f} GiB"
        f" ({m['available_memory_bytes'] / 2**30:.1f} available); free disk {m['free_disk_bytes'] / 2**30:.1f} GiB;"
        f" virtualised: {m['virtualised']}")
    out("settings (value [source]):")
    for name, v in d.settings.items():
        out(f"  {name} = {json.dumps(v['value'], default=str)}  [{v['source']}]")
    out("recommended: " + "; ".join(f"{k} {v}" for k, v in d.recommended.items()))
    out("versions: " + ", ".join(f"{k} {v}" for k, v in d.versions.items()))
    db_ = d.database
    if not db_.get("exists"):
        out(f"database: {db_['path']} does not exist yet (run 'duckpipe ingest')")
    elif db_.get("opens"):
        out(f"database: {db_['path']} opens; {db_['size']}, {db_['tables']} tables; units {db_['units']}")
    else:
        out(f"database: {db_['path']} does not open: {db_['error']}")
    for w in d.warnings:
        out(f"warning: {w}")
    if db_.get("exists") and not db_.get("opens"):
        raise EnvironmentFault(db_["error"])
    from .ingest.verify import print_store_health
    if not print_store_health(d.store, d.repair, settings, out):
        raise typer.Exit(1)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:          # Ctrl-C while parsing options, before a command's own handling
        typer.echo("Error: interrupted. Run the same command again to resume.", err=True)
        sys.exit(3)
    finally:
        # The command is over (its exit code decided): a Ctrl-C during interpreter shutdown, where
        # Python puts back the default SIGINT action, must not turn that exit into a kill (-2).
        signal.signal(signal.SIGINT, signal.SIG_IGN)


if __name__ == "__main__":
    main()
