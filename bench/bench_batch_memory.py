"""Calibrate the batch working-set estimate: peak RSS per input row at a few batch sizes.

For each batch size (in units, taken in (date, security) order from an ingested workspace) a
fresh process computes one batch with the stand-alone executor (``compute_job``: its own
in-memory DuckDB, result files written to a scratch folder) under a generous memory limit, so
DuckDB does not spill and the peak is the batch's natural working set. A process that only
imports and connects gives the fixed part. The slope (peak - fixed) / input rows is what
``duckpipe.engine.planning.EST_BYTES_PER_ROW`` is set from (BENCHMARKS.md, "Packed batches").

    python bench/bench_batch_memory.py --workspace bench/out/e2e/ws --sizes 1,5,10,20,40
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
import duckdb
from duckpipe import store
from duckpipe.engine.executor import BatchJob, compute_job
from duckpipe.settings import resolve
ws, n, limit, threads, scratch = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
con = duckdb.connect(str(Path(ws) / "duckpipe.duckdb"), read_only=True)
units = con.execute("SELECT DISTINCT security_code, date FROM store_partitions WHERE table_name = 'orders'"
                    " ORDER BY date, security_code LIMIT $n", {"n": n}).fetchall()
rows = con.execute("SELECT sum(rows) FROM store_partitions WHERE list_contains(['orders','trades','nbbo'], table_name)"
                   " AND (security_code, date) IN (SELECT unnest($s), unnest($d))",
                   {"s": [u[0] for u in units], "d": [u[1] for u in units]}).fetchone()[0] if n else 0
files = store.store_files(con, tables=["orders", "trades", "nbbo"], dates=sorted({u[1] for u in units}))
con.close()
s = resolve(workspace=Path(ws), memory_limit=limit, threads=threads, env={})
t0 = time.perf_counter()
if n:
    out = compute_job(BatchJob(1, tuple((int(a), b) for a, b in units), files, s.params, s.scenarios, "analysis",
                               limit, threads, scratch + "/tmp", workspace=scratch))
else:
    duckdb.connect(":memory:").execute("SELECT 1").fetchall()
print(json.dumps({"units": n, "rows": int(rows or 0), "seconds": time.perf_counter() - t0,
                  "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workspace", type=Path, required=True)
    ap.add_argument("--sizes", default="1,5,10,20,40")
    ap.add_argument("--memory-limit", default="8GB", help="high enough that no batch spills")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    points = []
    for n in [0] + [int(x) for x in args.sizes.split(",")]:
        with tempfile.TemporaryDirectory() as scratch:
            res = subprocess.run([sys.executable, "-c", CHILD, str(args.workspace.resolve()), str(n),
                                  args.memory_limit, str(args.threads), scratch],
                                 capture_output=True, text=True, check=True)
        points.append(json.loads(res.stdout.strip().splitlines()[-1]))
    base = points[0]["peak_rss"]
    print(f"fixed (imports + one connection): {base / 2**20:,.0f} MB")
    print("| units | input rows | seconds | peak RSS MB | (peak - fixed) / row, bytes |")
    print("|---:|---:|---:|---:|---:|")
    for p in points[1:]:
        per_row = (p["peak_rss"] - base) / p["rows"] if p["rows"] else 0
        print(f"| {p['units']} | {p['rows']:,} | {p['seconds']:.1f} | {p['peak_rss'] / 2**20:,.0f} | {per_row:,.0f} |")
    big = [p for p in points[1:] if p["rows"]]
    if len(big) >= 2:      # least-squares slope over the measured sizes
        xs, ys = [p["rows"] for p in big], [p["peak_rss"] for p in big]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
        print(f"\nslope (least squares): {slope:,.0f} bytes per input row;"
              f" intercept {(my - slope * mx) / 2**20:,.0f} MB")


if __name__ == "__main__":
    main()
