"""Run on Dask: 1 vs 2 worker processes (one thread each) against the local executor.

Usage: python bench/bench_dask.py WORKSPACE [--strategy by-date] [--memory-limit 3GB]

WORKSPACE is an ingested workspace (e.g. of `duckpipe synth --securities 10 --days 10
--orders-per-unit 8000`, about 1.1 GB of CSV). Every configuration recomputes all units
(`--rerun all`) with the analysis pipeline; the figure compared is the `units` stage of
run_stages (the batches: compute + commits), not the post-run aggregation, which runs in the
coordinator whatever the executor. The coordinator's cost per batch is the `coordinator (dask)`
stage: its time outside waiting for workers (job building, submission, commit, status) over
the number of batches.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb


def stages(ws: Path) -> tuple[dict[str, tuple[float, int]], dict]:
    con = duckdb.connect(str(ws / "duckpipe.duckdb"), read_only=True)
    try:
        run_id, executor = con.execute("SELECT run_id, executor FROM runs ORDER BY started_at DESC LIMIT 1").fetchone()
        rows = con.execute("SELECT stage, duration_s, rows FROM run_stages WHERE run_id = $r", {"r": run_id}).fetchall()
        batches = con.execute("SELECT count(DISTINCT batch_id) FROM units WHERE run_id = $r", {"r": run_id}).fetchone()[0]
        units = con.execute("SELECT count(*) FROM units WHERE run_id = $r AND status = 'done'", {"r": run_id}).fetchone()[0]
    finally:
        con.close()
    out = {s: (d, n) for s, d, n in rows}
    out["_batches"] = (0.0, batches)
    out["_units"] = (0.0, units)
    return out, json.loads(executor)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("workspace", type=Path)
    ap.add_argument("--strategy", default="by-date")
    ap.add_argument("--memory-limit", default="3GB")
    args = ap.parse_args()
    ws = args.workspace
    configs = [("local, 1 thread", ["--threads", "1"]),
               ("dask LocalCluster, 1 worker x 1 thread", ["--executor", "dask", "--workers", "1", "--threads", "1"]),
               ("dask LocalCluster, 2 workers x 1 thread", ["--executor", "dask", "--workers", "2", "--threads", "1"])]
    raw = sum(p.stat().st_size for p in (ws / "store").rglob("*.parquet"))
    print(f"workspace {ws}: store {raw / 2**20:,.0f} MB of Parquet; strategy {args.strategy};"
          f" --memory-limit {args.memory_limit}; {os.cpu_count()} cores")
    print()
    print("| configuration | units | batches | wall s | units stage s | speed-up | coordinator ms/batch | load avg (1 min) before/after |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    base = None
    for name, extra in configs:
        before = os.getloadavg()[0]
        t0 = time.perf_counter()
        res = subprocess.run([sys.executable, "-m", "duckpipe", "run", "--workspace", str(ws), "--rerun", "all",
                              "--strategy", args.strategy, "--memory-limit", args.memory_limit, "-q", *extra],
                             capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if res.returncode != 0:
            print(f"{name}: exit {res.returncode}: {res.stderr[-2000:]}", file=sys.stderr)
            sys.exit(1)
        after = os.getloadavg()[0]
        st, _executor = stages(ws)
        units_s = st["units"][0]
        coord = st.get("coordinator (dask)")
        coord_ms = f"{1000 * coord[0] / coord[1]:,.0f}" if coord and coord[1] else "-"
        if name.startswith("dask") and base is None:
            base = units_s
        speed = f"{base / units_s:.2f}x" if base and name.startswith("dask") else "-"
        print(f"| {name} | {st['_units'][1]} | {st['_batches'][1]} | {wall:,.1f} | {units_s:,.1f} | {speed} |"
              f" {coord_ms} | {before:.1f} / {after:.1f} |", flush=True)


if __name__ == "__main__":
    main()
