"""Incremental aggregates and statistics (issue 9, item 3): what one changed unit costs.

On a workspace of many small units (synth, by-date), measured as whole processes:
1. the full run (every unit, then the post-run stage building every unit's partials);
2. `run --rerun all --units N`: one unit recomputed, the post-run stage rebuilds its partials only;
3. one unit's input changed (its quotes in one nbbo file shifted), `ingest` + `run`: exactly that
   unit is stale and rerun;
4. for reference, a full rebuild of the post-run tables on the same workspace (every unit's
   partials dropped and rebuilt: what every run paid before).
The post-run stage times are the `aggregate` and `stats` rows of run_stages.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import measure, workload_args  # noqa: E402


def stages(ws: Path) -> dict[str, float]:
    """Seconds of the last run's units / aggregate / stats stages."""
    con = duckdb.connect(str(ws / "duckpipe.duckdb"), read_only=True)
    try:
        run_id = con.execute("SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1").fetchone()[0]
        rows = con.execute("SELECT stage, duration_s FROM run_stages WHERE run_id = $r"
                           " AND stage IN ('units', 'aggregate', 'stats')", {"r": run_id}).fetchall()
        return dict(rows)
    finally:
        con.close()


def shift_quotes(path: Path, security: int) -> None:
    """Lower every quote of ``security`` in one nbbo file by 10 price units (new mids, one unit)."""
    lines = path.read_text().splitlines(keepends=True)
    head = lines[0].rstrip("\r\n").split(",")
    sec, bid, offer = head.index("orderbookid"), head.index("bidprice"), head.index("offerprice")
    for i, line in enumerate(lines[1:], 1):
        f = line.rstrip("\r\n").split(",")
        if f[sec] == str(security):
            f[bid], f[offer] = str(int(f[bid]) - 10), str(int(f[offer]) - 10)
            lines[i] = ",".join(f) + "\n"
    path.write_text("".join(lines))


def full_rebuild(ws: Path, memory_limit: str, threads: int) -> float:
    """Seconds of build_aggregates + compute_stats rebuilding every unit's partials (in-process)."""
    from duckpipe.analysis.aggregate import build_aggregates
    from duckpipe.analysis.stats import compute_stats
    from duckpipe.catalog import open_workspace
    from duckpipe.settings import resolve
    settings = resolve(workspace=ws, memory_limit=memory_limit, threads=threads)
    with open_workspace(settings, "bench") as con:
        t0 = time.perf_counter()
        build_aggregates(con, settings)
        compute_stats(con, settings)
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    workload_args(ap, "bench/out/incremental", securities=20, days=50, orders=200)
    args = ap.parse_args()
    out = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    raw, ws = out / "raw", out / "ws"
    dp = [sys.executable, "-m", "duckpipe"]
    lim = ["--memory-limit", args.memory_limit, "--threads", str(args.threads), "-q"]
    measure(dp + ["synth", str(raw), "--securities", str(args.securities), "--days", str(args.days),
                  "--orders-per-unit", str(args.orders_per_unit), "-q"], None)
    ingest_s, _ = measure(dp + ["ingest", str(raw), "--workspace", str(ws), *lim], None)
    run_s, _ = measure(dp + ["run", "--workspace", str(ws), "--strategy", "by-date", *lim], None)
    full = stages(ws)
    con = duckdb.connect(str(ws / "duckpipe.duckdb"), read_only=True)
    units = con.execute("SELECT count(*) FROM units WHERE status = 'done'").fetchone()[0]
    rows = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("sweeps", "markouts", "agg_partials_facts", "agg_partials_markouts", "stats_partials")}
    position = units // 2
    security = con.execute("SELECT security_code FROM units ORDER BY date, security_code LIMIT 1").fetchone()[0]
    con.close()

    rerun_s, _ = measure(dp + ["run", "--workspace", str(ws), "--rerun", "all", "--units", str(position), *lim], None)
    rerun = stages(ws)
    shift_quotes(sorted((raw / "nbbo").iterdir())[args.days // 2], security)
    reingest_s, _ = measure(dp + ["ingest", str(raw), "--workspace", str(ws), *lim], None)
    stale_s, _ = measure(dp + ["run", "--workspace", str(ws), "--strategy", "by-date", *lim], None)
    stale = stages(ws)
    rebuild_s = full_rebuild(ws, args.memory_limit, args.threads)

    def post(s):
        return s.get("aggregate", 0.0) + s.get("stats", 0.0)

    print(f"workspace: {args.securities} securities x {args.days} days x {args.orders_per_unit} orders per unit:"
          f" {units} units; {rows['sweeps']:,} sweeps, {rows['markouts']:,} markout rows;"
          f" partials: {rows['agg_partials_facts']:,} facts, {rows['agg_partials_markouts']:,} markouts,"
          f" {rows['stats_partials']:,} stats rows; memory limit {args.memory_limit}, threads {args.threads}")
    print()
    print("| command | wall s (process) | units stage s | post-run s (aggregate + stats) | % of full run |")
    print("|---|---:|---:|---:|---:|")
    print(f"| ingest (first) | {ingest_s:.1f} | | | |")
    print(f"| run, all {units} units (by-date) | {run_s:.1f} | {full.get('units', 0):.1f} | {post(full):.2f} | 100 |")
    print(f"| run --rerun all --units {position} (one unit) | {rerun_s:.1f} | {rerun.get('units', 0):.2f} |"
          f" {post(rerun):.2f} | {100 * rerun_s / run_s:.1f} |")
    print(f"| ingest after one unit's quotes changed | {reingest_s:.1f} | | | |")
    print(f"| run (the one stale unit) | {stale_s:.1f} | {stale.get('units', 0):.2f} | {post(stale):.2f} |"
          f" {100 * stale_s / run_s:.1f} |")
    print(f"| full rebuild of every partial + combine (what each run paid before; in-process) | {rebuild_s:.2f}"
          f" | | {rebuild_s:.2f} | |")
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
