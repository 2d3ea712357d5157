"""Benchmarks of the analysis: the dark-book simulation at SPEC scale (20,000 sweeps x 200,000
contras in one unit, "simulates in seconds") and compute_batch on a largish random unit.

    .venv/bin/python bench/bench_simulate.py [--sweeps 20000] [--contras 200000] [--orders 20000]
"""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import random
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from duckpipe.analysis.simulate import simulate_batch  # noqa: E402
from duckpipe.analysis.steps import compute_batch  # noqa: E402
from duckpipe.settings import DEFAULT_SCENARIOS  # noqa: E402

log = logging.getLogger("bench_simulate")
DAY_NS = 6 * 3600 * 10**9
BASE = 7_904_000_000_000_000_000


def simulation_inputs(n_sweeps: int, n_contras: int, seed: int = 1) -> tuple[pa.Table, pa.Table]:
    """One unit: contras spread over a 6-hour day, sweeps with windows of 0-120 s."""
    rng = random.Random(seed)
    c_ts = [rng.randrange(DAY_NS) for _ in range(n_contras)]
    contras = pa.table({
        "unit_idx": pa.array([0] * n_contras, pa.int32()),
        "order_id": pa.array([BASE + i for i in range(n_contras)], pa.uint64()),
        "side": pa.array([rng.choice((1, 2)) for _ in range(n_contras)], pa.int32()),
        "arrival_ts": pa.array(c_ts, pa.int64()),
        "arrival_seq": pa.array(range(n_contras), pa.int64()),
        "quantity": pa.array([rng.choice((100, 500, 1000, 5000)) for _ in range(n_contras)], pa.int64()),
        "mid": pa.array([3310.0 + rng.randrange(3) * 5 for _ in range(n_contras)], pa.float64()),
    })
    starts = [rng.randrange(DAY_NS) for _ in range(n_sweeps)]
    sweeps = pa.table({
        "unit_idx": pa.array([0] * n_sweeps, pa.int32()),
        "order_id": pa.array([BASE + 10**9 + i for i in range(n_sweeps)], pa.uint64()),
        "side": pa.array([rng.choice((1, 2)) for _ in range(n_sweeps)], pa.int32()),
        "post_entry_ts": pa.array(starts, pa.int64()),
        "post_entry_seq": pa.array(range(n_sweeps), pa.int64()),
        "window_start": pa.array(starts, pa.int64()),
        "window_end": pa.array([s + rng.randrange(120 * 10**9) for s in starts], pa.int64()),
        "offered": pa.array([rng.choice((0, 200, 2000, 20000, 200000)) for _ in range(n_sweeps)], pa.int64()),
    })
    return sweeps, contras


def bench_simulation(n_sweeps: int, n_contras: int) -> float:
    sweeps, contras = simulation_inputs(n_sweeps, n_contras)
    t0 = time.perf_counter()
    matches, outcomes = simulate_batch(sweeps, contras)
    secs = time.perf_counter() - t0
    log.info("simulate_batch: %d sweeps x %d contras -> %d matches in %.2f s", n_sweeps, n_contras,
             matches.num_rows, secs)
    return secs


def bench_compute_batch(n_orders: int, n_units: int = 2) -> float:
    from oracle_data import make_views, random_unit
    rng = random.Random(3)
    orders, trades, nbbo, units = [], [], [], []
    for i in range(n_units):
        unit = (1 + i, dt.date(2024, 9, 5))
        o, t, q = random_unit(rng, unit[0], unit[1], n_orders, id_offset=i)
        orders += o
        trades += t
        nbbo += q
        units.append(unit)
    con = duckdb.connect()
    make_views(con, orders, trades, nbbo)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    res = compute_batch(con, units, {}, DEFAULT_SCENARIOS, timings=timings)
    secs = time.perf_counter() - t0
    log.info("compute_batch: %d units x %d orders (%d events, %d trades, %d quotes) in %.2f s; rows %s",
             n_units, n_orders, len(orders), len(trades), len(nbbo), secs,
             {k: v.num_rows for k, v in res.items()})
    for step, s in timings.items():
        log.info("  %-36s %.3f s", step, s)
    return secs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sweeps", type=int, default=20_000)
    ap.add_argument("--contras", type=int, default=200_000)
    ap.add_argument("--orders", type=int, default=20_000, help="orders per unit for compute_batch")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)   # the results are the output
    bench_simulation(args.sweeps, args.contras)
    bench_compute_batch(args.orders)


if __name__ == "__main__":
    main()
