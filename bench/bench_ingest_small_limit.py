"""Ingest of one >= 200 MB orders CSV at a small --memory-limit (issue 12, item 2).

Writes the file with `duckpipe synth` (few securities and days, many orders per unit, so one
file is large), runs `duckpipe ingest --memory-limit LIMIT` in a subprocess, and records wall
seconds and the peak RSS of the whole process (the kernel's ru_maxrss from wait4), checking
exit 0 and rows_read = rows_loaded + rows_rejected. Optionally runs the same ingest at a
second, larger limit (--compare-limit) for the throughput figure, and with another code tree
(--baseline-tree, e.g. an exported older commit) to compare before/after on the same input.

    python bench/bench_ingest_small_limit.py --orders-per-unit 170000 --limit 128MB \
        --compare-limit 1GB --out bench/out/small_limit

Writes OUT/small_limit.json and OUT/small_limit.md.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb

BUDGET = 512 * 2 ** 20          # SPEC/issue 12: peak RSS <= memory limit + 0.5 GB


def parse_mb(text: str) -> int:
    from duckpipe.settings import parse_size
    return parse_size(text)


def make_input(out: Path, securities: int, days: int, orders: int, seed: int) -> Path:
    raw = out / f"raw_{securities}x{days}x{orders}_{seed}"
    files = sorted((raw / "orders").glob("*.csv")) if raw.exists() else []
    if not files:
        shutil.rmtree(raw, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "duckpipe", "synth", str(raw), "--securities", str(securities),
                        "--days", str(days), "--orders-per-unit", str(orders), "--seed", str(seed), "-q"],
                       check=True)
        files = sorted((raw / "orders").glob("*.csv"))
    return max(files, key=lambda p: p.stat().st_size)


def run(path: Path, ws: Path, limit: str, threads: int, tree: Path | None) -> dict:
    shutil.rmtree(ws, ignore_errors=True)
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    argv = [sys.executable, "-m", "duckpipe", "ingest", "--orders", str(path), "--workspace", str(ws),
            "--memory-limit", limit, "--threads", str(threads), "-q"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace").strip().splitlines()
    res = {"limit": limit, "tree": str(tree or "current"), "exit": code, "seconds": round(seconds, 2),
           "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "error": err[-1] if code and err else None}
    if code == 0:
        with duckdb.connect(str(ws / "duckpipe.duckdb"), read_only=True) as con:
            read, loaded, rejected = con.execute(
                "SELECT rows_read, rows_loaded, rows_rejected FROM ingest_manifest").fetchone()
        assert read == loaded + rejected, (read, loaded, rejected)
        res.update(rows_loaded=loaded, rows_rejected=rejected)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--securities", type=int, default=2)
    ap.add_argument("--days", type=int, default=1)
    ap.add_argument("--orders-per-unit", type=int, default=170_000, help="170,000 x 2 securities: about 214 MB")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--limit", default="128MB")
    ap.add_argument("--compare-limit", default=None, help="also run at this limit (e.g. 1GB)")
    ap.add_argument("--baseline-tree", type=Path, default=None,
                    help="a source tree of older code to run the same cases with (before/after)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("bench/out/small_limit"))
    args = ap.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    path = make_input(out, args.securities, args.days, args.orders_per_unit, args.seed)
    size_mb = path.stat().st_size / 1e6
    load = os.getloadavg()
    results = []
    limits = [args.limit] + ([args.compare_limit] if args.compare_limit else [])
    trees = [None] + ([args.baseline_tree.resolve()] if args.baseline_tree else [])
    for _ in range(args.repeat):
        for limit in limits:
            for tree in trees:                   # alternate trees: a noisy machine hits both alike
                results.append(run(path, out / "ws", limit, args.threads, tree))
    lines = [f"input {path.name}: {size_mb:,.0f} MB; threads {args.threads}; load average before "
             f"{load[0]:.1f}", "", "| code | memory limit | exit | seconds | MB/s | peak RSS MB | within limit + 0.5 GB |",
             "|---|---|---:|---:|---:|---:|---|"]
    for r in results:
        ok = r["exit"] == 0 and r["peak_rss_mb"] * 2 ** 20 <= parse_mb(r["limit"]) + BUDGET
        lines.append(f"| {Path(r['tree']).name if r['tree'] != 'current' else 'current'} | {r['limit']} | {r['exit']} "
                     f"| {r['seconds']} | {size_mb / r['seconds']:.0f} | {r['peak_rss_mb']:.0f} | {'yes' if ok else 'NO'} |")
    (out / "small_limit.json").write_text(json.dumps({"input": str(path), "size_mb": size_mb,
                                                      "loadavg": load, "results": results}, indent=2))
    (out / "small_limit.md").write_text("\n".join(lines) + "\n")
    sys.stdout.write("\n".join(lines) + "\n")
    first = results[0]
    if first["exit"] != 0 or first["peak_rss_mb"] * 2 ** 20 > parse_mb(args.limit) + BUDGET:
        raise SystemExit(f"ingest at {args.limit}: exit {first['exit']}, peak RSS {first['peak_rss_mb']} MB")


if __name__ == "__main__":
    main()
