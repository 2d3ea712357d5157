"""Batch planning (SPEC §4): which units run together, and why.

By-unit, by-date, by-week and by-month group units on a calendar grain; ``auto`` picks the
largest grain whose biggest batch fits the memory budget and says why.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .units import Unit

STRATEGIES = ("auto", "by-unit", "by-date", "by-week", "by-month")
# Working-set bytes per input row (orders + trades + nbbo) of a batch. Measured with
# bench_e2e data: a 1.57M-row by-date batch peaked at 640 MB RSS including ~200 MB of
# interpreter and libraries (~280 B/row); a 3.1M-row by-week batch at 908 MB.
EST_BYTES_PER_ROW = 300


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


def plan(units: list[Unit], strategy: str, unit_rows: dict[tuple[int, dt.date], int],
         memory_limit_bytes: int) -> Plan:
    """Batches for ``strategy``; ``auto`` picks the largest grain whose biggest batch fits half the memory."""
    if strategy != "auto":
        return Plan(strategy, "chosen on the command line", group(units, strategy), unit_rows)
    budget = memory_limit_bytes // 2
    notes = []
    for grain in ("by-month", "by-week", "by-date"):
        batches = group(units, grain)
        biggest = max((sum(unit_rows.get(u.key, 0) for u in b) * EST_BYTES_PER_ROW for b in batches), default=0)
        if biggest <= budget:
            reason = (f"{grain}: largest batch needs ~{biggest / 2**20:,.0f} MB (est.), within half the"
                      f" memory limit ({budget / 2**20:,.0f} MB)" + (f"; {'; '.join(notes)}" if notes else ""))
            return Plan(grain, reason, batches, unit_rows)
        notes.append(f"{grain} would need ~{biggest / 2**20:,.0f} MB")
    return Plan("by-unit", f"by-unit: {'; '.join(notes)} (over {budget / 2**20:,.0f} MB)", group(units, "by-unit"),
                unit_rows)
