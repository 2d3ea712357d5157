"""What the markout and liquidity steps (SPEC §5.10, issue 11) add to `duckpipe run`.

One workspace is ingested once (synth data); every measured run works on a fresh copy of it and
runs `duckpipe run` as a whole process, alternately with the steps on and off, back to back.
"Off" is a benchmark-only switch, not a product option: this script re-executes itself as the
child process, removes the markout and liquidity steps from the analysis pipeline (their unit
templates, result tables, partials, aggregates and statistics) and then calls the CLI; "on" goes
through the same wrapper with nothing removed, so both pay the same start-up.
Printed per run: wall and CPU seconds (user + sys of the process and its children, from wait4),
the run's stages (units, aggregate, stats from run_stages) and the load average before the run.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import measure_cpu, workload_args  # noqa: E402

_OFF_TEMPLATES = ("analysis/085_markouts.sql", "analysis/086_liquidity.sql")
_OFF_TABLES = ("markouts", "liquidity")


def switch_off() -> None:
    """Remove the §5.10 steps from the analysis pipeline of this process (benchmark only)."""
    from duckpipe.analysis import aggregate, markouts, stats, steps
    steps.UNIT_TEMPLATES[:] = [t for t in steps.UNIT_TEMPLATES if t not in _OFF_TEMPLATES]
    steps.RESULT_TABLES[:] = [t for t in steps.RESULT_TABLES if t not in _OFF_TABLES]
    for t in _OFF_TABLES:
        steps._SOURCE.pop(t, None)
    aggregate.FAMILIES[:] = [f for f in aggregate.FAMILIES if f not in _OFF_TABLES]
    stats.FAMILIES[:] = [f for f in stats.FAMILIES if f not in _OFF_TABLES]
    markouts.build_aggregates = lambda *a, **k: {}
    aggregate.markouts.build_aggregates = markouts.build_aggregates


def child(mode: str, argv: list[str]) -> None:
    if mode == "off":
        switch_off()
    elif mode != "on":
        raise SystemExit(f"unknown mode {mode!r}")
    from duckpipe.cli import main as cli_main
    sys.argv = ["duckpipe", *argv]
    cli_main()


def stages(ws: Path) -> dict[str, float]:
    import duckdb
    con = duckdb.connect(str(ws / "duckpipe.duckdb"), read_only=True)
    try:
        run_id = con.execute("SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1").fetchone()[0]
        return dict(con.execute("SELECT stage, sum(duration_s) FROM run_stages WHERE run_id = $r GROUP BY stage",
                                {"r": run_id}).fetchall())
    finally:
        con.close()


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3:])
        return
    ap = argparse.ArgumentParser(description=__doc__)
    workload_args(ap, "bench/out/markouts", securities=10, days=5, orders=8000)
    ap.add_argument("--workspace", type=Path, help="an ingested workspace to copy (default: synth + ingest)")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    out = args.out.resolve()
    lim = ["--memory-limit", args.memory_limit, "--threads", str(args.threads), "-q"]
    dp = [sys.executable, "-m", "duckpipe"]
    base = args.workspace.resolve() if args.workspace else out / "ws"
    if not args.workspace:
        shutil.rmtree(out, ignore_errors=True)
        measure_cpu(dp + ["synth", str(out / "raw"), "--securities", str(args.securities), "--days", str(args.days),
                    "--orders-per-unit", str(args.orders_per_unit), "-q"], None)
        measure_cpu(dp + ["ingest", str(out / "raw"), "--workspace", str(base), *lim], None)
    runs: dict[str, list[tuple[float, float]]] = {"off": [], "on": []}
    print("| round | steps | load (1 min) | wall s | CPU s | units s | aggregate s | stats s |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for r in range(1, args.rounds + 1):
        for mode in ("off", "on"):
            ws = out / f"ws_{mode}"
            shutil.rmtree(ws, ignore_errors=True)
            shutil.copytree(base, ws)
            load = os.getloadavg()[0]
            wall, _, cpu = measure_cpu([sys.executable, __file__, "--child", mode, "run", "--workspace", str(ws), *lim],
                                       None)
            st = stages(ws)
            runs[mode].append((wall, cpu))
            print(f"| {r} | {mode} | {load:.2f} | {wall:.1f} | {cpu:.1f} | {st.get('units', 0):.1f}"
                  f" | {st.get('aggregate', 0):.2f} | {st.get('stats', 0):.2f} |", flush=True)
            shutil.rmtree(ws, ignore_errors=True)
    off_w, off_c = (min(x[i] for x in runs["off"]) for i in (0, 1))
    on_w, on_c = (min(x[i] for x in runs["on"]) for i in (0, 1))
    print(f"\nbest of {args.rounds}: wall {off_w:.1f} -> {on_w:.1f} s ({100 * (on_w / off_w - 1):+.0f}%),"
          f" CPU {off_c:.1f} -> {on_c:.1f} s ({100 * (on_c / off_c - 1):+.0f}%)")
    if not args.keep and not args.workspace:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
