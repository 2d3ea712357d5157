"""End to end: synth -> ingest -> run under a memory limit; order event rows per second.

The figure of merit (issue: analysis) is order event rows / (ingest wall + run wall), with
peak RSS of each stage, on `duckpipe synth` data of 20 securities x 10 days x 8,000 orders.
With ``--polars``, the baseline of issue 9 is timed in the same run: Polars' plain
``scan_csv().sink_parquet()`` of the same CSV files (one sink per table folder), as a whole
process like ingest and run, and the ratio (ingest + run) / Polars is printed.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import measure, workload_args  # noqa: E402

# The baseline: convert every table folder's CSVs to one Parquet file, nothing else.
POLARS_ALL = """
import sys, pathlib, polars as pl
raw, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
for folder in sorted(p for p in raw.iterdir() if p.is_dir()):
    files = sorted(folder.glob("*.csv"))
    if files:
        pl.scan_csv(files, infer_schema_length=10000).sink_parquet(out / f"{folder.name}.parquet")
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    workload_args(ap, "bench/out/e2e", securities=20, days=10, orders=8000)
    ap.add_argument("--polars", action="store_true", help="time Polars' plain conversion of the same files")
    args = ap.parse_args()
    out = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    dp = [sys.executable, "-m", "duckpipe"]
    lim = ["--memory-limit", args.memory_limit, "--threads", str(args.threads), "-q"]
    synth_s, _ = measure(dp + ["synth", str(out / "raw"), "--securities", str(args.securities), "--days",
                               str(args.days), "--orders-per-unit", str(args.orders_per_unit), "-q"], None)
    raw_mb = sum(p.stat().st_size for p in (out / "raw").rglob("*.csv")) / 1e6
    ingest_s, ingest_rss = measure(dp + ["ingest", str(out / "raw"), "--workspace", str(out / "ws"), *lim], None)
    run_s, run_rss = measure(dp + ["run", "--workspace", str(out / "ws"), *lim], None)
    polars_s = polars_rss = None
    if args.polars:              # right after ours, so both see about the same machine
        env = {**os.environ, "POLARS_MAX_THREADS": str(args.threads)}
        polars_s, polars_rss = measure([sys.executable, "-c", POLARS_ALL, str(out / "raw"), str(out / "polars")], env)
    con = duckdb.connect(str(out / "ws" / "duckpipe.duckdb"), read_only=True)
    events = con.execute("SELECT sum(rows_loaded) FROM ingest_manifest WHERE table_name = 'orders'").fetchone()[0]
    units, failed = con.execute("SELECT count(*) FILTER (status = 'done'), count(*) FILTER (status = 'failed')"
                                " FROM units").fetchone()
    strategy = con.execute("SELECT strategy || ' (' || strategy_reason || ')' FROM runs").fetchone()[0]
    sweeps = con.execute("SELECT count(*) FROM sweeps").fetchone()[0]
    con.close()
    total = ingest_s + run_s
    print(f"input: {args.securities} securities x {args.days} days x {args.orders_per_unit:,} orders per unit:"
          f" {raw_mb:,.0f} MB CSV, {events:,} order event rows; {units} units done, {failed} failed,"
          f" {sweeps:,} sweeps; memory limit {args.memory_limit}, threads {args.threads}")
    print(f"run strategy: {strategy}")
    print()
    print("| stage | wall s | peak RSS MB | order event rows/s |")
    print("|---|---:|---:|---:|")
    print(f"| synth (not counted; {raw_mb / synth_s:,.0f} MB/s written) | {synth_s:.1f} | | |")
    print(f"| ingest | {ingest_s:.1f} | {ingest_rss / 2**20:,.0f} | {events / ingest_s:,.0f} |")
    print(f"| run (analysis + aggregates + stats) | {run_s:.1f} | {run_rss / 2**20:,.0f} | {events / run_s:,.0f} |")
    print(f"| **ingest + run** | **{total:.1f}** | | **{events / total:,.0f}** |")
    if polars_s is not None:
        print(f"| Polars scan_csv().sink_parquet() of the same files (baseline) | {polars_s:.1f}"
              f" | {polars_rss / 2**20:,.0f} | {events / polars_s:,.0f} |")
        print()
        print(f"(ingest + run) / Polars: **{total / polars_s:.2f}x**; load average {os.getloadavg()[0]:.1f} at the end")
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
