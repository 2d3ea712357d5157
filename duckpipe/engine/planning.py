"""Batch planning (SPEC §4): which units run together, and why.

By-unit, by-date, by-week and by-month group units on a calendar grain. ``auto`` packs: it
fills each batch with units in (date, security) order up to the memory budget (a batch may
span dates), so a big workspace gets a few large batches and no batch outgrows the budget; a
unit bigger than the budget on its own gets a batch of its own. The reason says how many
batches of what size, for every strategy.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .units import Unit

STRATEGIES = ("auto", "by-unit", "by-date", "by-week", "by-month")
# Working-set bytes per input row (orders + trades + nbbo) of a batch, calibrated from measured
# peaks: bench/bench_batch_memory.py computes single batches of 1..80 units of bench_e2e data
# (one process each, no memory limit in the way) and fits peak RSS = fixed + slope x rows; see
# BENCHMARKS.md "Packed batches" for the figures: 1.58M rows peaked at 519 MB, 4.71M rows at
# 1,124 MB over a 154 MB fixed part (242 and 206 B/row; least-squares slope 206 B/row). The
# largest measured per-row figure, rounded up, is the estimate.
EST_BYTES_PER_ROW = 250
# Share of the executor's memory a packed batch's estimated working set may fill: the rest is
# headroom for the estimate's error (DuckDB spills past its limit rather than failing).
PACK_FILL = 0.6


@dataclass
class Plan:
    strategy: str
    reason: str
    batches: list[list[Unit]]
    input_rows: dict[tuple[int, dt.date], int] = field(default_factory=dict)   # store rows per unit


def _grain_key(strategy: str) -> Callable[[Unit], Any]:
    return {
        "by-unit": lambda u: u.key,
        "by-date": lambda u: u.date,
        "by-week": lambda u: tuple(u.date.isocalendar())[:2],
        "by-month": lambda u: (u.date.year, u.date.month),
    }[strategy]


def group(units: list[Unit], strategy: str) -> list[list[Unit]]:
    key = _grain_key(strategy)
    batches: dict[Any, list[Unit]] = defaultdict(list)
    for u in sorted(units, key=lambda u: (u.date, u.security_code)):
        batches[key(u)].append(u)
    return list(batches.values())


def pack(units: list[Unit], unit_rows: dict[tuple[int, dt.date], int], max_rows: int) -> list[list[Unit]]:
    """Units in (date, security) order, cut into batches of at most ``max_rows`` input rows
    (a unit over the bound alone gets its own batch)."""
    batches: list[list[Unit]] = []
    current: list[Unit] = []
    rows = 0
    for u in sorted(units, key=lambda u: (u.date, u.security_code)):
        n = unit_rows.get(u.key, 0)
        if current and rows + n > max_rows:
            batches.append(current)
            current, rows = [], 0
        current.append(u)
        rows += n
    if current:
        batches.append(current)
    return batches


def describe(batches: list[list[Unit]], unit_rows: dict[tuple[int, dt.date], int]) -> str:
    """'N batches of a-b units, largest ~X input rows (~Y MB est.)' for reasons and dry runs."""
    if not batches:
        return "no batches"
    sizes = [len(b) for b in batches]
    rows = [sum(unit_rows.get(u.key, 0) for u in b) for b in batches]
    span = f"{min(sizes)}" if min(sizes) == max(sizes) else f"{min(sizes)}-{max(sizes)}"
    return (f"{len(batches):,} batches of {span} units, largest {max(rows):,} input rows"
            f" (~{max(rows) * EST_BYTES_PER_ROW / 2**20:,.0f} MB est.)")


def plan(units: list[Unit], strategy: str, unit_rows: dict[tuple[int, dt.date], int],
         memory_limit_bytes: int) -> Plan:
    """Batches for ``strategy``; ``auto`` packs units up to the executor's share of the memory."""
    if strategy != "auto":
        batches = group(units, strategy)
        return Plan(strategy, f"chosen on the command line: {describe(batches, unit_rows)}", batches, unit_rows)
    from ..budget import split
    executor = split(memory_limit_bytes).executor
    budget = int(executor * PACK_FILL)
    batches = pack(units, unit_rows, max(1, budget // EST_BYTES_PER_ROW))
    reason = (f"packed: {describe(batches, unit_rows)}, within {budget / 2**20:,.0f} MB ({PACK_FILL:.0%} of the"
              f" executor's {executor / 2**20:,.0f} MB share of the memory limit)")
    return Plan("packed", reason, batches, unit_rows)
