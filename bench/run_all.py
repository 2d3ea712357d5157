"""`make bench`: run every benchmark in this machine's current state and write BENCHMARKS.md.

Each section records the exact command that produced it. Ratios are against baselines
measured in the same run (machines here are noisy; absolute numbers are not comparable
across runs).
"""
from __future__ import annotations

import datetime as dt
import platform
import subprocess
import sys
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BENCHES = [
    ("Ingest vs Polars (issue: ingest)", ["bench/bench_ingest.py", "--gb", "2", "--memory-limit", "1GB", "--polars-sorted",
                                          "--threads", "2", "--out", "bench/out/ingest"]),
    ("Ingest of a 214 MB file at --memory-limit 128MB (issue 12)",
     ["bench/bench_ingest_small_limit.py", "--limit", "128MB", "--out", "bench/out/small_limit"]),
    ("Engine overhead per unit (issue: engine)", ["bench/bench_engine.py"]),
    ("Dark-book simulation and batch compute (issue: analysis)", ["bench/bench_simulate.py"]),
    ("End to end, 20 securities x 10 days x 8,000 orders (issue: analysis)", ["bench/bench_e2e.py"]),
    ("Incremental aggregates and statistics: one changed unit of ~1,000 (issue 9, item 3)",
     ["bench/bench_incremental.py", "--securities", "20", "--days", "43", "--orders-per-unit", "200"]),
    ("Markouts and liquidity: run with the steps on and off (issue 11)",
     ["bench/bench_markouts.py", "--securities", "10", "--days", "5", "--orders-per-unit", "8000", "--rounds", "2"]),
]


def main() -> None:
    only = sys.argv[1:]              # names of bench scripts to run alone (no BENCHMARKS.md)
    parts = [f"# Benchmarks\n\nProduced by `make bench` (`python bench/run_all.py`) on {dt.date.today()},"
             f" {platform.processor() or platform.machine()}, {psutil.cpu_count()} cores,"
             f" {psutil.virtual_memory().total / 2**30:.0f} GiB RAM, Python {platform.python_version()}.\n"]
    for title, cmd in BENCHES:
        if only and not any(o in cmd[0] for o in only):
            continue
        print(f"== {title}", flush=True)
        res = subprocess.run([sys.executable, *cmd], cwd=ROOT, capture_output=True, text=True)
        body = res.stdout.strip() if res.returncode == 0 else f"FAILED (exit {res.returncode}):\n```\n{res.stderr[-3000:]}\n```"
        print(body, flush=True)
        parts.append(f"## {title}\n\nCommand: `python {' '.join(cmd)}`\n\n{body}\n")
    if only:
        return                       # a partial run prints only; BENCHMARKS.md holds whole runs
    notes = (HERE / "NOTES.md").read_text() if (HERE / "NOTES.md").exists() else ""
    (ROOT / "BENCHMARKS.md").write_text("\n".join(parts[:1] + [notes] + parts[1:]))


if __name__ == "__main__":
    main()
