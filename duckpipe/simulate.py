"""Dark-book (Centre Point midpoint) simulation, SPEC §5.6: the one sequential step of the analysis.

Time priority with one shared remaining-quantity ledger is inherently sequential (each sweep
sees what earlier sweeps left), so it runs here, not in SQL. SQL (``analysis/070_dark_inputs.sql``)
prepares per-unit arrays; SQL (``analysis/080_dark_results.sql``) turns the matches into metrics.

Complexity: per unit and side the contras are sorted once by (arrival time, seq, order id); a
sweep's window start is found by binary search and exhausted contras are skipped with a
union-find "next live contra" pointer (path-compressed), so each contra is exhausted at most once
and the total work is ~O((S + C) log C), never a scan of all contras per sweep.
"""
from __future__ import annotations

import logging
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

log = logging.getLogger(__name__)

NOTHING_OFFERED = "nothing_offered"
NO_CONTRA = "no_contra_in_window"
EXHAUSTED = "contras_exhausted"

MATCH_SCHEMA = pa.schema([
    ("unit_idx", pa.int32()), ("sweep_order_id", pa.uint64()), ("contra_order_id", pa.uint64()),
    ("match_no", pa.int32()), ("match_ts", pa.int64()), ("quantity", pa.int64()),
    ("price", pa.float64()),
])
OUTCOME_SCHEMA = pa.schema([
    ("unit_idx", pa.int32()), ("order_id", pa.uint64()), ("placement_no", pa.int32()),
    ("offered", pa.int64()), ("reason", pa.string()),
])


@dataclass
class UnitResult:
    """Matches (column lists) and one outcome per sweep, in placement order."""

    sweep_ids: list[int] = field(default_factory=list)
    contra_ids: list[int] = field(default_factory=list)
    match_no: list[int] = field(default_factory=list)
    match_ts: list[int] = field(default_factory=list)
    quantity: list[int] = field(default_factory=list)
    price: list[float | None] = field(default_factory=list)
    reasons: list[str | None] = field(default_factory=list)


class _SideBook:
    """The contras of one side, in (arrival time, seq, order id) order, with the shared ledger."""

    def __init__(self, ids: list[int], ts: list[int], qty: list[int], mid: list[float | None]):
        self.ids, self.ts, self.mid = ids, ts, mid
        self.remaining = [max(0, q) for q in qty]
        n = len(ids)
        # parent[i] == i: contra i is live; otherwise points towards the next live candidate.
        self.parent = [i if self.remaining[i] > 0 else i + 1 for i in range(n)] + [n]

    def find(self, i: int) -> int:
        """Index of the first contra >= i with quantity left (len(ids) when none)."""
        parent = self.parent
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:                     # path compression
            parent[i], i = root, parent[i]
        return root


def simulate_unit(sweeps: dict[str, list], contras: dict[str, list]) -> UnitResult:
    """Simulate one unit.

    ``sweeps``: order_id, side, window_start, window_end, offered — already in placement order.
    ``contras``: order_id, side, arrival_ts, arrival_seq, quantity, mid (None when no valid mid).
    """
    books: dict[int, _SideBook] = {}
    for side in (1, 2):
        idx = [i for i, s in enumerate(contras["side"]) if s == side]
        idx.sort(key=lambda i: (contras["arrival_ts"][i], _nulls_last(contras["arrival_seq"][i]),
                                contras["order_id"][i]))
        books[side] = _SideBook([contras["order_id"][i] for i in idx], [contras["arrival_ts"][i] for i in idx],
                                [contras["quantity"][i] for i in idx], [contras["mid"][i] for i in idx])
    out = UnitResult()
    for sid, side, ws, we, offered in zip(sweeps["order_id"], sweeps["side"], sweeps["window_start"],
                                          sweeps["window_end"], sweeps["offered"]):
        if offered is None or offered <= 0:
            out.reasons.append(NOTHING_OFFERED)
            continue
        book = books.get({1: 2, 2: 1}.get(side, 0))
        if book is None or ws is None or we is None:
            lo = hi = 0
        else:
            lo, hi = bisect_left(book.ts, ws), bisect_right(book.ts, we)
        if lo >= hi:
            out.reasons.append(NO_CONTRA)
            continue
        left, n = offered, 0
        j = book.find(lo)
        while left > 0 and j < hi:
            take = min(left, book.remaining[j])
            n += 1
            out.sweep_ids.append(sid)
            out.contra_ids.append(book.ids[j])
            out.match_no.append(n)
            out.match_ts.append(book.ts[j])
            out.quantity.append(take)
            out.price.append(book.mid[j])
            left -= take
            book.remaining[j] -= take
            if book.remaining[j] == 0:
                book.parent[j] = j + 1
                j = book.find(j + 1)
        out.reasons.append(None if n else EXHAUSTED)
    return out


def _column(table: pa.Table, name: str) -> list[Any]:
    return table.column(name).to_pylist()


def simulate_batch(sweeps: pa.Table, contras: pa.Table) -> tuple[pa.Table, pa.Table]:
    """Run :func:`simulate_unit` for every unit of a batch (split by ``unit_idx``).

    Sweeps are sorted into placement order (post-entry ts, seq, order id) here, because temp
    tables keep no insertion order under ``preserve_insertion_order = false``.
    Returns (matches, outcomes) Arrow tables with MATCH_SCHEMA / OUTCOME_SCHEMA.
    """
    sw = {c: _column(sweeps, c) for c in sweeps.column_names}
    ct = {c: _column(contras, c) for c in contras.column_names}
    sw_order = sorted(range(len(sw["order_id"])), key=lambda i: (
        sw["unit_idx"][i], sw["post_entry_ts"][i], _nulls_last(sw["post_entry_seq"][i]), sw["order_id"][i]))
    ct_by_unit: dict[int, list[int]] = {}
    for i, u in enumerate(ct["unit_idx"]):
        ct_by_unit.setdefault(u, []).append(i)
    sw_by_unit: dict[int, list[int]] = {}
    for i in sw_order:
        sw_by_unit.setdefault(sw["unit_idx"][i], []).append(i)

    m_cols: dict[str, list] = {f.name: [] for f in MATCH_SCHEMA}
    o_cols: dict[str, list] = {f.name: [] for f in OUTCOME_SCHEMA}
    for unit, rows in sw_by_unit.items():
        crow = ct_by_unit.get(unit, [])
        res = simulate_unit(
            {k: [sw[k][i] for i in rows] for k in ("order_id", "side", "window_start", "window_end", "offered")},
            {k: [ct[k][i] for i in crow] for k in ("order_id", "side", "arrival_ts", "arrival_seq", "quantity", "mid")},
        )
        m_cols["unit_idx"].extend([unit] * len(res.sweep_ids))
        m_cols["sweep_order_id"].extend(res.sweep_ids)
        m_cols["contra_order_id"].extend(res.contra_ids)
        m_cols["match_no"].extend(res.match_no)
        m_cols["match_ts"].extend(res.match_ts)
        m_cols["quantity"].extend(res.quantity)
        m_cols["price"].extend(None if p is None or p != p else p for p in res.price)
        o_cols["unit_idx"].extend([unit] * len(rows))
        o_cols["order_id"].extend(sw["order_id"][i] for i in rows)
        o_cols["placement_no"].extend(range(1, len(rows) + 1))
        o_cols["offered"].extend(sw["offered"][i] for i in rows)
        o_cols["reason"].extend(res.reasons)
    matches = pa.table({k: pa.array(v, type=MATCH_SCHEMA.field(k).type) for k, v in m_cols.items()})
    outcomes = pa.table({k: pa.array(v, type=OUTCOME_SCHEMA.field(k).type) for k, v in o_cols.items()})
    log.debug("dark simulation: %d sweeps, %d contras, %d matches", len(sw_order), len(ct["order_id"]),
              matches.num_rows)
    return matches, outcomes


def _nulls_last(v: int | None) -> tuple[int, int]:
    return (1, 0) if v is None else (0, v)


__all__ = ["simulate_unit", "simulate_batch", "UnitResult", "NOTHING_OFFERED", "NO_CONTRA", "EXHAUSTED",
           "MATCH_SCHEMA", "OUTCOME_SCHEMA"]
