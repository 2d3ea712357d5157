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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

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

    def __init__(self, ids: list[int], ts: list[int], qty: list[int] | np.ndarray, mid: list[float | None]):
        self.ids, self.ts, self.mid = ids, ts, mid
        rem = np.maximum(np.asarray(qty, dtype=np.int64), 0)
        self.remaining = rem.tolist()
        n = len(ids)
        # parent[i] == i: contra i is live; otherwise points towards the next live candidate.
        idx = np.arange(n, dtype=np.int64)
        self.parent = np.where(rem > 0, idx, idx + 1).tolist() + [n]

    def find(self, i: int) -> int:
        """Index of the first contra >= i with quantity left (len(ids) when none)."""
        parent = self.parent
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:                     # path compression
            parent[i], i = root, parent[i]
        return root


_INT_MAX = np.iinfo(np.int64).max


def _contra_order(unit: np.ndarray | None, side: np.ndarray, ts: np.ndarray, seq: np.ndarray,
                  oid: np.ndarray) -> np.ndarray:
    """Permutation sorting contras by (unit, side, arrival time, seq nulls last, order id)."""
    keys = [oid, seq, ts, side] + ([unit] if unit is not None else [])
    return np.lexsort(keys)


def _walk(sw: dict[str, list], books: dict[int, _SideBook]) -> UnitResult:
    """The sequential pass over sweeps in placement order against the per-side books."""
    out = UnitResult()
    for sid, side, ws, we, offered in zip(sw["order_id"], sw["side"], sw["window_start"],
                                          sw["window_end"], sw["offered"]):
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


def _books(side: np.ndarray, ts: np.ndarray, qty: np.ndarray, mid: np.ndarray, oid: np.ndarray
           ) -> dict[int, _SideBook]:
    """Per-side books from contra arrays already sorted by (side, time, seq, id)."""
    books = {}
    for s in (1, 2):
        lo, hi = np.searchsorted(side, s, "left"), np.searchsorted(side, s, "right")
        m = mid[lo:hi]
        mids = m.astype(object)
        mids[np.isnan(m)] = None                  # no valid mid -> a NULL price
        books[s] = _SideBook(oid[lo:hi].tolist(), ts[lo:hi].tolist(), qty[lo:hi], mids.tolist())
    return books


def simulate_unit(sweeps: dict[str, list], contras: dict[str, list]) -> UnitResult:
    """Simulate one unit.

    ``sweeps``: order_id, side, window_start, window_end, offered — already in placement order.
    ``contras``: order_id, side, arrival_ts, arrival_seq (None sorts last), quantity, mid (None
    when no valid mid), in any order.
    """
    side = np.array(contras["side"], dtype=np.int64)
    ts = np.array(contras["arrival_ts"], dtype=np.int64)
    seq = np.array([_INT_MAX if v is None else v for v in contras["arrival_seq"]], dtype=np.int64)
    oid = np.array(contras["order_id"], dtype=np.uint64)
    qty = np.array(contras["quantity"], dtype=np.int64)
    mid = np.array([np.nan if v is None else v for v in contras["mid"]], dtype=np.float64)
    o = _contra_order(None, side, ts, seq, oid)
    return _walk(sweeps, _books(side[o], ts[o], qty[o], mid[o], oid[o]))


def _np(table: pa.Table, name: str, dtype: Any, null: Any) -> np.ndarray:
    col = table.column(name)
    if col.null_count:
        col = pc.fill_null(col, null)
    return col.to_numpy().astype(dtype, copy=False)


def simulate_batch(sweeps: pa.Table, contras: pa.Table) -> tuple[pa.Table, pa.Table]:
    """Run the simulation for every unit of a batch (split by ``unit_idx``).

    Sweeps are sorted into placement order (post-entry ts, seq, order id) here, because temp
    tables keep no insertion order under ``preserve_insertion_order = false``.
    Returns (matches, outcomes) Arrow tables with MATCH_SCHEMA / OUTCOME_SCHEMA.
    """
    s_unit = _np(sweeps, "unit_idx", np.int64, -1)
    s_ord = np.lexsort([_np(sweeps, "order_id", np.uint64, 0), _np(sweeps, "post_entry_seq", np.int64, _INT_MAX),
                        _np(sweeps, "post_entry_ts", np.int64, _INT_MAX), s_unit])
    sw = {k: _np(sweeps, k, dt, nul)[s_ord]
          for k, dt, nul in (("unit_idx", np.int64, -1), ("order_id", np.uint64, 0), ("side", np.int64, 0),
                             ("window_start", np.int64, _INT_MAX), ("window_end", np.int64, -_INT_MAX),
                             ("offered", np.int64, 0))}
    c_unit = _np(contras, "unit_idx", np.int64, -1)
    c_side = _np(contras, "side", np.int64, 0)
    c_ts = _np(contras, "arrival_ts", np.int64, _INT_MAX)
    c_oid = _np(contras, "order_id", np.uint64, 0)
    c_ord = _contra_order(c_unit, c_side, c_ts, _np(contras, "arrival_seq", np.int64, _INT_MAX), c_oid)
    c_unit, c_side, c_ts, c_oid = c_unit[c_ord], c_side[c_ord], c_ts[c_ord], c_oid[c_ord]
    c_qty = _np(contras, "quantity", np.int64, 0)[c_ord]
    c_mid = _np(contras, "mid", np.float64, np.nan)[c_ord]

    m_cols: dict[str, list] = {f.name: [] for f in MATCH_SCHEMA}
    o_cols: dict[str, list] = {f.name: [] for f in OUTCOME_SCHEMA}
    for unit in np.unique(sw["unit_idx"]).tolist():
        a, b = np.searchsorted(sw["unit_idx"], unit, "left"), np.searchsorted(sw["unit_idx"], unit, "right")
        ca, cb = np.searchsorted(c_unit, unit, "left"), np.searchsorted(c_unit, unit, "right")
        unit_sw = {k: v[a:b].tolist() for k, v in sw.items()}
        res = _walk(unit_sw, _books(c_side[ca:cb], c_ts[ca:cb], c_qty[ca:cb], c_mid[ca:cb], c_oid[ca:cb]))
        m_cols["unit_idx"].extend([unit] * len(res.sweep_ids))
        m_cols["sweep_order_id"].extend(res.sweep_ids)
        m_cols["contra_order_id"].extend(res.contra_ids)
        m_cols["match_no"].extend(res.match_no)
        m_cols["match_ts"].extend(res.match_ts)
        m_cols["quantity"].extend(res.quantity)
        m_cols["price"].extend(res.price)
        o_cols["unit_idx"].extend(unit_sw["unit_idx"])
        o_cols["order_id"].extend(unit_sw["order_id"])
        o_cols["placement_no"].extend(range(1, b - a + 1))
        o_cols["offered"].extend(unit_sw["offered"])
        o_cols["reason"].extend(res.reasons)
    matches = pa.table({k: pa.array(v, type=MATCH_SCHEMA.field(k).type) for k, v in m_cols.items()})
    outcomes = pa.table({k: pa.array(v, type=OUTCOME_SCHEMA.field(k).type) for k, v in o_cols.items()})
    log.debug("dark simulation: %d sweeps, %d contras, %d matches", len(s_ord), len(c_ord), matches.num_rows)
    return matches, outcomes


__all__ = ["simulate_unit", "simulate_batch", "UnitResult", "NOTHING_OFFERED", "NO_CONTRA", "EXHAUSTED",
           "MATCH_SCHEMA", "OUTCOME_SCHEMA"]
