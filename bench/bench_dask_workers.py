"""Ingest and run on Dask: a LocalCluster of 1 vs 2 worker processes (one thread each).

Usage: python bench/bench_dask_workers.py RAW WORKDIR [--memory-limit 3GB] [--rounds 2] [--local]

RAW is a synth folder (e.g. ``duckpipe synth RAW --securities 10 --days 10 --orders-per-unit
8000``: 1.1 GB of CSV in 35 files). The 1- and 2-worker configurations run back to back,
alternating, ``--rounds`` times: first ``ingest`` (each into a fresh workspace under WORKDIR),
then ``run --rerun all --strategy by-date`` on the last ingested workspace. Figures:

- wall seconds of the command, and the part the speed-up is about: for ingest the files (the
  ``ingest: ... Xs`` log line: from after the cluster started to the last commit), for run the
  ``units`` stage of run_stages (the batches: compute + commits; the post-run aggregation runs in
  the coordinator whatever the executor);
- the coordinator's cost per batch (ingest: per file), in ms: its time outside waiting for workers
  (job building, submission, commit, status) over the batches. Run: the run_stages row
  ``coordinator (dask)``; ingest: the log line ``dask: N batches; coordinator busy X ms per batch``
  of ``-v`` (logged by the executor at close);
- bytes per batch: store Parquet a by-date batch reads, and result Parquet it writes;
- the 1/5/15-minute load averages before each command (the machine is shared).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb

BUSY = re.compile(r"dask: (\d+) batches; coordinator busy ([0-9.]+) ms per batch")
INGESTED = re.compile(r"ingest: \d+ file\(s\), \d+ rows loaded, \d+ rejected, \d+ failed, ([0-9.]+)s")


def loadavg() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def duckpipe(*args: str) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "duckpipe", *args], capture_output=True, text=True)
    secs = time.perf_counter() - t0
    if res.returncode != 0:
        print(f"duckpipe {' '.join(args)}: exit {res.returncode}\n{res.stderr[-3000:]}", file=sys.stderr)
        sys.exit(1)
    return secs, res


def executor_args(workers: int) -> list[str]:
    if workers == 0:
        return ["--threads", "1"]
    return ["--executor", "dask", "--workers", str(workers), "--threads", "1"]


def name(workers: int) -> str:
    return "local, 1 thread" if workers == 0 else f"dask, {workers} worker{'s' if workers > 1 else ''} x 1 thread"


def ingest_row(raw: Path, ws: Path, workers: int, memory: str) -> tuple[str, float]:
    shutil.rmtree(ws, ignore_errors=True)
    before = loadavg()
    secs, res = duckpipe("ingest", str(raw), "--workspace", str(ws), "--memory-limit", memory, "-v",
                         *executor_args(workers))
    m = BUSY.search(res.stderr)
    files_s = float(INGESTED.search(res.stderr).group(1))      # after the cluster started
    coord = f"{float(m.group(2)):,.0f} ({m.group(1)} files)" if m else "-"
    con = duckdb.connect(str(ws / "duckpipe.duckdb"), read_only=True)
    try:
        files, mb, writers = con.execute("SELECT count(*), sum(size) / 1e6, count(DISTINCT worker)"
                                         " FROM ingest_manifest WHERE status = 'loaded'").fetchone()
    finally:
        con.close()
    return (f"| ingest | {name(workers)} | {files} files, {mb:,.0f} MB | {secs:,.1f} | {files_s:,.1f} | {coord} |"
            f" {writers} | {before} |"), files_s


def run_row(ws: Path, workers: int, memory: str) -> tuple[str, float]:
    before = loadavg()
    secs, _ = duckpipe("run", "--workspace", str(ws), "--rerun", "all", "--strategy", "by-date",
                       "--memory-limit", memory, "-q", *executor_args(workers))
    con = duckdb.connect(str(ws / "duckpipe.duckdb"), read_only=True)
    try:
        run_id = con.execute("SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1").fetchone()[0]
        stages = {s: (d, n) for s, d, n in con.execute(
            "SELECT stage, duration_s, rows FROM run_stages WHERE run_id = $r", {"r": run_id}).fetchall()}
        units, batches, writers = con.execute(
            "SELECT count(*), count(DISTINCT batch_id), count(DISTINCT worker) FROM units"
            " WHERE run_id = $r AND status = 'done'", {"r": run_id}).fetchone()
    finally:
        con.close()
    coord = stages.get("coordinator (dask)")
    coord_ms = f"{1000 * coord[0] / coord[1]:,.0f} ({coord[1]} batches)" if coord and coord[1] else "-"
    return (f"| run | {name(workers)} | {units} units, {batches} batches | {secs:,.1f} | {stages['units'][0]:,.1f} |"
            f" {coord_ms} | {writers} | {before} |"), stages["units"][0]


def bytes_per_batch(ws: Path) -> str:
    con = duckdb.connect(str(ws / "duckpipe.duckdb"), read_only=True)
    try:
        run_id = con.execute("SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1").fetchone()[0]
        batches = con.execute("SELECT count(DISTINCT batch_id) FROM units WHERE run_id = $r", {"r": run_id}
                              ).fetchone()[0]
        paths = [p for (p,) in con.execute("SELECT DISTINCT path FROM result_files WHERE run_id = $r",
                                           {"r": run_id}).fetchall()]
        store = [p for (p,) in con.execute("SELECT path FROM ingest_files WHERE date IS NOT NULL").fetchall()]
    finally:
        con.close()
    out = sum((ws / p).stat().st_size for p in paths if (ws / p).exists())
    inp = sum((ws / p).stat().st_size for p in store)
    return (f"by-date batch: reads {inp / batches / 2**20:,.1f} MB of store Parquet, writes"
            f" {out / batches / 2**20:,.1f} MB of result Parquet ({batches} batches of the last run)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("raw", type=Path)
    ap.add_argument("workdir", type=Path)
    ap.add_argument("--memory-limit", default="3GB")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--local", action="store_true", help="Also the local executor (1 thread), once.")
    args = ap.parse_args()
    csv = sum(p.stat().st_size for p in args.raw.rglob("*.csv"))
    print(f"{args.raw}: {csv / 1e9:,.2f} GB of CSV; --memory-limit {args.memory_limit} (a LocalCluster of N"
          f" workers gives each task 1/(N+1) of it); {os.cpu_count()} logical cores; uptime load {loadavg()}")
    print()
    print("| command | executor | work | wall s | files / units stage s | coordinator ms per batch (file) |"
          " workers that wrote | load avg 1/5/15 min before |")
    print("|---|---|---|---:|---:|---:|---:|---|")
    order = [1, 2] * args.rounds + ([0] if args.local else [])
    ing: dict[int, list[float]] = {}
    for w in order:
        row, secs = ingest_row(args.raw, args.workdir / f"ws-ingest-{w}", w, args.memory_limit)
        ing.setdefault(w, []).append(secs)
        print(row, flush=True)
    ws = args.workdir / f"ws-ingest-{order[-1]}"
    run: dict[int, list[float]] = {}
    for w in order:
        row, secs = run_row(ws, w, args.memory_limit)
        run.setdefault(w, []).append(secs)
        print(row, flush=True)
    print()
    for what, d in (("ingest (files, after the cluster started)", ing), ("run (units stage)", run)):
        best1, best2 = min(d[1]), min(d[2])
        print(f"- {what}: 1 worker {', '.join(f'{x:.1f}' for x in d[1])} s; 2 workers"
              f" {', '.join(f'{x:.1f}' for x in d[2])} s; speed-up (best of each) {best1 / best2:.2f}x")
    print(f"- {bytes_per_batch(ws)}")
    print(f"- load average after: {loadavg()}")


if __name__ == "__main__":
    main()
