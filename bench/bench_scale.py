"""`make bench-scale` (issue 9): is duckpipe linear and bounded from ~2 GB to ~20 GB?

The same pipeline (synth -> ingest -> run with the auto strategy) at each size, every stage a
whole process. Sizes keep the unit the same (orders per unit) and grow the number of
securities and dates, so seconds per GB should stay flat if nothing is superlinear. Printed:
seconds per GB of each size and their ratio, the peak RSS of ingest and of every run stage
(the engine's own sampler, ``run_stages.peak_rss_bytes``) against limit + 0.5 GB, and the
batches auto chose. Not part of `make bench`: the 20 GB size writes ~20 GB of CSV and ~6 GB
of store and takes the better part of an hour on 2 cores (`--by-unit`: also a by-unit run of
each size, against auto's, issue 9's "by-unit within 1.5x"). The CPU guard is off
(``--max-cpu 100``): on a shared machine it would otherwise pause the run for other people's work.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import measure, measure_cpu  # noqa: E402

HEADROOM = 512 * 2**20           # issue 9: every stage within --memory-limit + 0.5 GB


def parse_size(spec: str) -> tuple[int, int]:
    """'20x9' -> (20 securities, 9 days)."""
    secs, days = spec.lower().split("x")
    return int(secs), int(days)


def limit_bytes(text: str) -> int:
    units = {"KB": 10**3, "MB": 10**6, "GB": 10**9, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30}
    for suffix in sorted(units, key=len, reverse=True):
        if text.upper().endswith(suffix):
            return int(float(text[: -len(suffix)]) * units[suffix])
    return int(text)


def one_size(out: Path, secs: int, days: int, orders: int, limit: str, threads: int, by_unit: bool = False) -> dict:
    """synth, ingest and run one size in ``out``; every figure the report below needs. ``by_unit``:
    also run ``--strategy by-unit`` on a copy of the ingested workspace (before the auto run)."""
    shutil.rmtree(out, ignore_errors=True)
    dp = [sys.executable, "-m", "duckpipe"]
    lim = ["--memory-limit", limit, "--threads", str(threads), "-q"]
    measure(dp + ["synth", str(out / "raw"), "--securities", str(secs), "--days", str(days),
                  "--orders-per-unit", str(orders), "-q"], None)
    gb = sum(p.stat().st_size for p in (out / "raw").rglob("*.csv")) / 1e9
    load0 = os.getloadavg()[0]
    ingest_s, ingest_rss, ingest_cpu = measure_cpu(dp + ["ingest", str(out / "raw"), "--workspace", str(out / "ws"),
                                                         *lim], None)
    unit_s = None
    if by_unit:
        shutil.copytree(out / "ws", out / "ws_by_unit")
        unit_s, _, _ = measure_cpu(dp + ["run", "--workspace", str(out / "ws_by_unit"), "--strategy", "by-unit",
                                         "--max-cpu", "100", *lim], None)
        shutil.rmtree(out / "ws_by_unit", ignore_errors=True)
    run_s, run_rss, run_cpu = measure_cpu(dp + ["run", "--workspace", str(out / "ws"), "--strategy", "auto",
                                      "--max-cpu", "100", *lim], None)
    con = duckdb.connect(str(out / "ws" / "duckpipe.duckdb"), read_only=True)
    stages = con.execute("SELECT stage, duration_s, peak_rss_bytes FROM run_stages"
                         " WHERE started_at IS NOT NULL ORDER BY started_at").fetchall()
    strategy, reason = con.execute("SELECT strategy, strategy_reason FROM runs").fetchone()
    batches = con.execute("SELECT count(*) AS units, min(date), max(date) FROM units WHERE status = 'done'"
                          " GROUP BY batch_id ORDER BY batch_id").fetchall()
    units_done, units_failed = con.execute("SELECT count(*) FILTER (status = 'done'),"
                                           " count(*) FILTER (status = 'failed') FROM units").fetchone()
    con.close()
    return {"secs": secs, "days": days, "gb": gb, "ingest_s": ingest_s, "ingest_rss": ingest_rss,
            "cpu": ingest_cpu + run_cpu,
            "run_s": run_s, "run_rss": run_rss, "stages": stages, "strategy": strategy, "reason": reason,
            "batches": batches, "done": units_done, "failed": units_failed, "by_unit_s": unit_s,
            "load": (load0, os.getloadavg()[0])}


def report(rows: list[dict], limit: str, threads: int) -> None:
    cap = limit_bytes(limit) + HEADROOM
    print(f"memory limit {limit}, threads {threads}; peak RSS cap (limit + 0.5 GB) {cap / 2**20:,.0f} MB\n")
    print("| size | CSV GB | units done / failed | ingest s | run s | s per GB | CPU s per GB | ingest peak MB"
          " | run peak MB | load avg (start, end) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        total = r["ingest_s"] + r["run_s"]
        print(f"| {r['secs']} x {r['days']} | {r['gb']:.2f} | {r['done']} / {r['failed']} | {r['ingest_s']:.0f}"
              f" | {r['run_s']:.0f} | {total / r['gb']:.1f} | {r['cpu'] / r['gb']:.1f} | {r['ingest_rss'] / 2**20:,.0f}"
              f" | {r['run_rss'] / 2**20:,.0f} | {r['load'][0]:.1f}, {r['load'][1]:.1f} |")
    big = max(rows, key=lambda r: r["gb"])
    for small in (r for r in rows if r["gb"] < big["gb"]):     # each smaller run (e.g. before and after)
        ratio = ((big["ingest_s"] + big["run_s"]) / big["gb"]) / ((small["ingest_s"] + small["run_s"]) / small["gb"])
        cpu_ratio = (big["cpu"] / big["gb"]) / (small["cpu"] / small["gb"])
        print(f"\nseconds per GB, {big['gb']:.1f} GB / {small['gb']:.1f} GB: **{ratio:.2f}x** (target <= 1.15x);"
              f" CPU seconds per GB: {cpu_ratio:.2f}x")
    over = []
    for r in rows:
        print(f"\n{r['secs']} x {r['days']}: run stages (duration s, peak RSS MB):"
              f" {', '.join(f'{s} {d:.1f} s {p / 2**20:,.0f} MB' for s, d, p in r['stages'])}")
        print(f"  auto chose {r['strategy']}: {r['reason']}")
        if r["by_unit_s"] is not None:
            print(f"  run --strategy by-unit {r['by_unit_s']:.0f} s against auto's {r['run_s']:.0f} s:"
                  f" **{r['by_unit_s'] / r['run_s']:.2f}x** (target <= 1.5x)")
        sizes = [b[0] for b in r["batches"]]
        print(f"  {len(sizes)} batches, units per batch {min(sizes)}-{max(sizes)}; "
              + "; ".join(f"{n} units {d0}..{d1}" for n, d0, d1 in r["batches"][:40])
              + (" ..." if len(sizes) > 40 else ""))
        over += [f"{r['secs']}x{r['days']} {s}" for s, _, p in r["stages"] if p and p > cap]
        if r["ingest_rss"] > cap:
            over.append(f"{r['secs']}x{r['days']} ingest")
    print(f"\nstages over limit + 0.5 GB: {', '.join(over) if over else 'none'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="20x9,40x45",
                    help="securities x days per size, comma separated (default ~2 GB and ~20 GB)")
    ap.add_argument("--orders-per-unit", type=int, default=8000)
    ap.add_argument("--memory-limit", default="1GB")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("bench/out/scale"))
    ap.add_argument("--keep", action="store_true", help="keep each size's data and workspace")
    ap.add_argument("--by-unit", action="store_true",
                    help="also time run --strategy by-unit on a copy of each size's workspace")
    args = ap.parse_args()
    rows = []
    for spec in args.sizes.split(","):
        secs, days = parse_size(spec)
        out = args.out.resolve() / spec
        rows.append(one_size(out, secs, days, args.orders_per_unit, args.memory_limit, args.threads, args.by_unit))
        print(f"done {spec}: {rows[-1]['gb']:.2f} GB, ingest {rows[-1]['ingest_s']:.0f} s,"
              f" run {rows[-1]['run_s']:.0f} s", file=sys.stderr, flush=True)
        if not args.keep:
            shutil.rmtree(out, ignore_errors=True)
    report(rows, args.memory_limit, args.threads)


if __name__ == "__main__":
    main()
