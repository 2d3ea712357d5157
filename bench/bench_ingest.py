"""Ingest benchmark: duckpipe ingest vs Polars scan_csv().sink_parquet() on the same orders CSV.

Generates >= --gb of synthetic 29-column orders CSV with a DuckDB COPY generator (exact size
control; duckpipe.synth writes whole trading days and is sized by orders per unit), then runs
each tool in its own subprocess, sampling peak RSS with psutil, and prints a Markdown table.
"""
from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import psutil

log = logging.getLogger("bench_ingest")
BYTES_PER_ROW = 146          # CSV bytes per generated row (measured: 1.55 GB for 10.5M rows), to size the files

GEN_SQL = """
COPY (
  SELECT 7900000000000000000 + i AS order_id, 3 AS exchange,
         1725494536001032398 + (i * 7919) % (6 * 3600 * 1000000000::BIGINT) + {day} * 86400000000000 AS timestamp,
         100001 + (i * 31) % {secs} AS security_code, 3000 + i % 500 AS price, 1 + i % 2 AS side,
         [6, 3, 5, 1][1 + i % 4] AS changereason, 1 + i % 3 AS orderstatus, 100 + i % 900 AS quantity,
         i % 900 AS leavesquantity, 1 AS ordertype, [64, 2048, 2112, 4098][1 + i % 4] AS exchangeordertype,
         2990 AS national_bid, 3010 AS national_offer, 2990 AS bid, 3010 AS offer, 50 + i % 40 AS participantid,
         0 AS preferenceonly, 2 AS midtick, 0 AS singlefillminimumquantity, 0 AS minimumquantity,
         1000000 + i AS sequence, 0 AS crossingkey, i % 100 AS totalmatchedquantity, 0 AS shortsellquantity,
         0 AS triggercondition, 'Current Max' AS timevaliditydecoded, i AS row_num, 1536 AS timevalidity
  FROM range({start}, {stop}) t(i)
) TO '{path}' (HEADER, DELIMITER ',')
"""


def generate(out: Path, gb: float, files: int) -> list[Path]:
    """Write ``files`` orders CSVs totalling about ``gb`` GB (reused when already there)."""
    src = out / "raw" / "orders"
    src.mkdir(parents=True, exist_ok=True)
    rows = int(gb * 1e9 / BYTES_PER_ROW / files) + 1
    paths = [src / f"orders_{k:02d}_{rows}.csv" for k in range(files)]
    for stale in set(src.iterdir()) - set(paths):      # the ingest reads the whole folder
        stale.unlink()
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    for k, path in enumerate(paths):
        if not path.exists():
            con.execute(GEN_SQL.format(day=k, secs=200, start=k * rows, stop=(k + 1) * rows, path=path))
    size = sum(p.stat().st_size for p in paths)
    log.info("input: %d files, %.2f GB", files, size / 1e9)
    if size < gb * 1e9:
        log.warning("input is %.2f GB, below the %.2f GB asked for (BYTES_PER_ROW too high)", size / 1e9, gb)
    return paths


INGEST = """
import sys, logging
from pathlib import Path
from duckpipe import catalog
from duckpipe.ingest.load import ingest
from duckpipe.settings import resolve
st = resolve(workspace=sys.argv[1], memory_limit=sys.argv[3], threads=int(sys.argv[4]), env={})
with catalog.open_workspace(st, "ingest") as con:
    s = ingest(con, st, [Path(sys.argv[2])])
    assert not s.failed, s.failed
"""

POLARS = """
import sys, polars as pl
files = sys.argv[2:]
pl.scan_csv(files, schema_overrides={"order_id": pl.UInt64}).sink_parquet(sys.argv[1])
"""

# Like for like (context only, not the target): sorted by security then time as the store is.
POLARS_SORTED = """
import sys, polars as pl
files = sys.argv[2:]
(pl.scan_csv(files, schema_overrides={"order_id": pl.UInt64})
   .sort(["security_code", "timestamp", "sequence"]).sink_parquet(sys.argv[1]))
"""


def workload_args(ap: argparse.ArgumentParser, out: str, securities: int, days: int, orders: int) -> None:
    """The options every synth-based bench takes: where, how much data, the limits, keep or not."""
    ap.add_argument("--out", type=Path, default=Path(out))
    ap.add_argument("--securities", type=int, default=securities)
    ap.add_argument("--days", type=int, default=days)
    ap.add_argument("--orders-per-unit", type=int, default=orders)
    ap.add_argument("--memory-limit", default="1GB")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--keep", action="store_true", help="keep the generated data and workspaces")


def measure(argv: list[str], env: dict[str, str] | None) -> tuple[float, int]:
    """Wall seconds and peak RSS of a subprocess (see :func:`measure_cpu`)."""
    seconds, peak, _ = measure_cpu(argv, env)
    return seconds, peak


def measure_cpu(argv: list[str], env: dict[str, str] | None) -> tuple[float, int, float]:
    """Wall seconds, peak RSS and CPU seconds (user + sys, children included) of a subprocess.
    Peak RSS: the kernel's exact maximum for the process (wait4's ru_maxrss), or the sampled
    process tree every 50 ms if that is larger. CPU seconds move less than wall seconds when
    other work shares the machine."""
    t0 = time.perf_counter()
    proc = psutil.Popen(argv, env=env, stdout=subprocess.DEVNULL)
    peak = 0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        try:
            rss = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.05)
    seconds = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{argv[:3]} failed with exit code {code}")
    return seconds, max(peak, usage.ru_maxrss * 1024), usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--gb", type=float, default=2.0)
    ap.add_argument("--out", type=Path, default=Path("bench_out"))
    ap.add_argument("--memory-limit", default="1GB")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--polars-sorted", action="store_true",
                    help="also time Polars with a sort by (security_code, timestamp, sequence), for context")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = args.out.resolve()
    paths = generate(out, args.gb, args.files)
    size = sum(p.stat().st_size for p in paths)
    env = {**os.environ, "POLARS_MAX_THREADS": str(args.threads)}
    ws, pq = out / "ws", out / "polars.parquet"
    shutil.rmtree(ws, ignore_errors=True)
    pq.unlink(missing_ok=True)
    log.info("load average before the runs: %s (other processes skew both timings)",
             " ".join(f"{x:.2f}" for x in os.getloadavg()))
    d_s, d_rss = measure([sys.executable, "-c", INGEST, str(ws), str(out / "raw"), args.memory_limit,
                          str(args.threads)], env)
    p_s, p_rss = measure([sys.executable, "-c", POLARS, str(pq), *map(str, paths)], env)
    mb = size / 1e6
    rows = [("duckpipe ingest (typed, sorted, per-date files, rejects, checksums)", d_s, d_rss),
            ("polars scan_csv().sink_parquet()", p_s, p_rss)]
    if args.polars_sorted:
        pq.unlink(missing_ok=True)
        rows.append(("polars scan_csv().sort(security, time).sink_parquet() (context)",
                     *measure([sys.executable, "-c", POLARS_SORTED, str(pq), *map(str, paths)], env)))
    lines = [f"input {mb:,.0f} MB CSV in {len(paths)} files; memory limit {args.memory_limit}, threads {args.threads}",
             "", "| tool | seconds | MB/s | peak RSS MB |", "|---|---:|---:|---:|"]
    lines += [f"| {n} | {s:.1f} | {mb / s:.0f} | {r / 2**20:.0f} |" for n, s, r in rows]
    lines += ["", f"speed ratio duckpipe/polars: {(mb / d_s) / (mb / p_s):.2f}x; "
              f"RSS ratio duckpipe/polars: {d_rss / max(p_rss, 1):.2f}x"]
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
