"""Engine overhead: ~1,000 tiny units run by-unit with the 'counts' pipeline.

Per-unit bookkeeping = (run wall time - time spent computing batches) / units: the cost of
marking units running, planning, creating views, the commit transaction and the status file.
The compute time of each unit is what the engine records in ``units.duration_s``.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import measure  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=Path("bench/out/engine"))
    ap.add_argument("--securities", type=int, default=100)
    ap.add_argument("--days", type=int, default=9)
    args = ap.parse_args()
    out = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    dp = [sys.executable, "-m", "duckpipe"]
    measure(dp + ["synth", str(out / "raw"), "--securities", str(args.securities), "--days", str(args.days),
                  "--orders-per-unit", "5", "-q"], None)
    measure(dp + ["ingest", str(out / "raw"), "--workspace", str(out / "ws"), "-q"], None)
    wall, rss = measure(dp + ["run", "--workspace", str(out / "ws"), "--pipeline", "counts", "--strategy",
                              "by-unit", "--memory-limit", "1GB", "--threads", "2", "-q"], None)
    con = duckdb.connect(str(out / "ws" / "duckpipe.duckdb"), read_only=True)
    n, compute = con.execute("SELECT count(*), sum(duration_s) FROM units WHERE status = 'done'").fetchone()
    stage = con.execute("SELECT duration_s FROM run_stages WHERE stage = 'units'").fetchone()[0]
    con.close()
    per_unit = stage / n * 1000
    bookkeeping = (stage - compute) / n * 1000
    print(f"{n} units by-unit (counts pipeline): run wall {wall:.1f}s incl. process start; units stage {stage:.2f}s")
    print()
    print("| measure | ms per unit |")
    print("|---|---:|")
    print(f"| whole units stage (compute + bookkeeping) | {per_unit:.1f} |")
    print(f"| compute (executor: views + template) | {compute / n * 1000:.1f} |")
    print(f"| engine bookkeeping (mark running, commit, checkpoint, status file) | {bookkeeping:.1f} |")
    print()
    print(f"peak RSS {rss / 2**20:.0f} MB; bookkeeping share of the stage {100 * (stage - compute) / stage:.0f}%")


if __name__ == "__main__":
    main()
