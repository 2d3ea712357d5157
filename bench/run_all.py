"""`make bench`: run every benchmark in this machine's current state and write BENCHMARKS.md.

Each section records the exact command that produced it. Ratios are against baselines
measured in the same run (machines here are noisy; absolute numbers are not comparable
across runs). Only the sections of the benches below are replaced; the hand-written ones
(profiles, scale, Dask, the reading notes) are kept where they are.
"""
from __future__ import annotations

import datetime as dt
import platform
import re
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
    ("End to end against Polars, small input: 5 securities x 4 days x 8,000 orders (issue 9)",
     ["bench/bench_e2e.py", "--securities", "5", "--days", "4", "--polars", "--out", "bench/out/e2e_small"]),
    ("End to end against Polars, >= 3 GB at --memory-limit 1GB (issue 9)",
     ["bench/bench_e2e.py", "--securities", "20", "--days", "14", "--polars", "--out", "bench/out/e2e_3gb"]),
    ("Incremental aggregates and statistics: one changed unit of ~1,000 (issue 9, item 3)",
     ["bench/bench_incremental.py", "--securities", "20", "--days", "43", "--orders-per-unit", "200"]),
    ("Markouts and liquidity: steps on vs off, as `make bench` runs it (issue 11)",
     ["bench/bench_markouts.py", "--securities", "10", "--days", "5", "--orders-per-unit", "8000", "--rounds", "2"]),
]


def sections(text: str) -> tuple[str, dict[str, str]]:
    """BENCHMARKS.md split into its preamble and its "## " sections, by title (order kept)."""
    head, *rest = re.split(r"^## ", text, flags=re.M)
    out = {}
    for chunk in rest:
        title, _, body = chunk.partition("\n")
        out[title.strip()] = body
    return head, out


def main() -> None:
    only = sys.argv[1:]              # names of bench scripts to run alone (BENCHMARKS.md untouched)
    head = (f"# Benchmarks\n\nGenerated sections last produced by `make bench` (`python bench/run_all.py`) on"
            f" {dt.date.today()}, {platform.processor() or platform.machine()}, {psutil.cpu_count()} cores,"
            f" {psutil.virtual_memory().total / 2**30:.0f} GiB RAM, Python {platform.python_version()}."
            " Sections without a `make bench` command are measured by hand, with their commands.\n\n")
    path = ROOT / "BENCHMARKS.md"
    _, kept = sections(path.read_text()) if path.exists() else ("", {})
    for title, cmd in BENCHES:
        if only and not any(o in cmd[0] for o in only):
            continue
        print(f"== {title}", flush=True)
        res = subprocess.run([sys.executable, *cmd], cwd=ROOT, capture_output=True, text=True)
        body = res.stdout.strip() if res.returncode == 0 else f"FAILED (exit {res.returncode}):\n```\n{res.stderr[-3000:]}\n```"
        print(body, flush=True)
        kept[title] = f"\nCommand: `python {' '.join(cmd)}`\n\n{body}\n\n"   # replaces this bench's old section
    if only:
        return                       # a partial run prints only; BENCHMARKS.md holds whole runs
    # Hand-written sections (profiles, scale, Dask, notes) stay as they are, in their place.
    path.write_text(head + "".join(f"## {t}\n{b}" for t, b in kept.items()))


if __name__ == "__main__":
    main()
