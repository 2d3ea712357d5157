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


def executor_throughput(ws: Path, strategy: str, memory_limit: str) -> None:
    """The executors alone: every batch computed and its output brought back to this process,
    nothing committed (what the workers can deliver when the coordinator's commit is cheap)."""
    from duckpipe import store
    from duckpipe.engine.dask_executor import DaskExecutor
    from duckpipe.engine.executor import BatchJob, LocalExecutor
    from duckpipe.engine.planning import group
    from duckpipe.engine.units import Unit
    from duckpipe.settings import resolve
    s = resolve(workspace=ws, memory_limit=memory_limit, threads=1, env={})
    con = duckdb.connect(str(ws / "duckpipe.duckdb"), read_only=True)
    try:
        units = [Unit(int(a), b) for a, b in con.execute("SELECT security_code, date FROM units").fetchall()]
        batches = group(units, strategy)
        files = {b[0].date: store.store_files(con, tables=["orders", "trades", "nbbo"], dates=sorted({u.date for u in b}))
                 for b in batches}
    finally:
        con.close()
    jobs = [BatchJob(i, tuple(u.key for u in b), files[b[0].date], s.params, s.scenarios, "analysis", memory_limit, 1,
                     str(s.temp_dir), workspace=str(ws)) for i, b in enumerate(batches, 1)]
    print()
    print(f"Executors alone ({len(jobs)} {strategy} batches computed, result files written, no commit):")
    print()
    print("| executor | seconds | speed-up vs 1 worker | result MB per batch (Parquet written) | load avg before/after |")
    print("|---|---:|---:|---:|---|")
    base = None
    for name, n in (("local, 1 thread", 0), ("dask, 1 worker x 1 thread", 1), ("dask, 2 workers x 1 thread", 2)):
        ex = LocalExecutor(memory_limit, 1, s.temp_dir) if n == 0 else DaskExecutor(
            memory_limit=memory_limit, threads=1, temp_dir=s.temp_dir, workspace=ws, workers=n)
        try:
            before = os.getloadavg()[0]
            t0 = time.perf_counter()
            nbytes = 0
            for _job, out in ex.run_jobs(iter(jobs)):
                assert not isinstance(out, BaseException), out
                nbytes += sum(f.bytes for f in out.files)      # result Parquet written (uncommitted: the next run removes it)
            secs = time.perf_counter() - t0
        finally:
            ex.close()
        base = secs if n == 1 else base
        speed = f"{base / secs:.2f}x" if base and n else "-"
        print(f"| {name} | {secs:,.1f} | {speed} | {nbytes / len(jobs) / 2**20:,.1f} | {before:.1f} / {os.getloadavg()[0]:.1f} |",
              flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("workspace", type=Path)
    ap.add_argument("--strategy", default="by-date")
    ap.add_argument("--memory-limit", default="3GB")
    ap.add_argument("--executors-only", action="store_true", help="Only the executor throughput table.")
    args = ap.parse_args()
    if args.executors_only:
        executor_throughput(args.workspace, args.strategy, args.memory_limit)
        return
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
    executor_throughput(ws, args.strategy, args.memory_limit)


if __name__ == "__main__":
    main()
