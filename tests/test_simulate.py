"""The dark-book simulation (SPEC §5.6): ledger rules, windows, reasons, and the fast walk vs a naive one."""
from __future__ import annotations

import random

import pyarrow as pa

from duckpipe.analysis.simulate import (
    EXHAUSTED,
    MATCH_SCHEMA,
    NO_CONTRA,
    NOTHING_OFFERED,
    simulate_batch,
    simulate_unit,
)

BIG = 7_904_398_175_942_455_000


def sweeps(*rows):
    """rows: (order_id, side, window_start, window_end, offered) in placement order."""
    keys = ("order_id", "side", "window_start", "window_end", "offered")
    return {k: [r[i] for r in rows] for i, k in enumerate(keys)}


def contras(*rows):
    """rows: (order_id, side, arrival_ts, arrival_seq, quantity, mid)."""
    keys = ("order_id", "side", "arrival_ts", "arrival_seq", "quantity", "mid")
    return {k: [r[i] for r in rows] for i, k in enumerate(keys)}


def matches(res):
    return list(zip(res.sweep_ids, res.contra_ids, res.quantity))


def test_shared_ledger_across_sweeps():
    res = simulate_unit(sweeps((1, 1, 0, 100, 60), (2, 1, 0, 100, 60)),
                        contras((1, 1, 0, 1, 60, 10.0), (2, 1, 0, 2, 60, 10.0), (9, 2, 50, 3, 100, 10.0)))
    assert matches(res) == [(1, 9, 60), (2, 9, 40)]
    assert res.reasons == [None, None]


def test_own_matches_do_not_reduce_own_contra_entry():
    # sweep 1 (buy, arrival qty 500, offers 100) fills against seller 9; later sell sweep 2 still
    # finds sweep 1's full contra entry of 500.
    res = simulate_unit(sweeps((1, 1, 10, 20, 100), (2, 2, 5, 30, 400)),
                        contras((1, 1, 10, 1, 500, 3310.0), (9, 2, 15, 2, 100, 3315.0), (2, 2, 5, 3, 400, 3320.0)))
    assert matches(res) == [(1, 9, 100), (2, 1, 400)]


def test_offer_is_post_entry_leaves_whatever_others_took():
    # buy sweep 1 consumes all of sell sweep 2's contra entry; sweep 2 still offers its 300
    res = simulate_unit(sweeps((1, 1, 0, 100, 500), (2, 2, 10, 100, 300)),
                        contras((2, 2, 10, 1, 500, 1.0), (7, 1, 20, 2, 1000, 2.0)))
    assert matches(res) == [(1, 2, 500), (2, 7, 300)]


def test_window_is_inclusive_and_ordered_by_time_then_seq():
    res = simulate_unit(sweeps((1, 1, 100, 200, 10_000)),
                        contras((5, 2, 99, 1, 10, 1.0), (6, 2, 100, 9, 10, 2.0), (7, 2, 100, 3, 10, 3.0),
                                (8, 2, 200, 4, 10, 4.0), (9, 2, 201, 5, 10, 5.0)))
    assert [c for _, c, _ in matches(res)] == [7, 6, 8]           # seq 3 before seq 9; 99 and 201 outside
    assert res.match_ts == [100, 100, 200] and res.match_no == [1, 2, 3]
    assert res.price == [3.0, 2.0, 4.0]


def test_reasons_in_order_of_precedence():
    res = simulate_unit(
        sweeps((1, 1, 0, 100, 0),          # filled on entry, contras available -> nothing_offered
               (2, 1, 0, 100, 50),         # takes seller 9 completely
               (3, 1, 0, 100, 50),         # seller 9 exhausted -> contras_exhausted
               (4, 2, 0, 100, 50),         # only sellers... and buyers 1-3 outside? no: buyer 8 at 500
               (5, 2, 0, 40, 50)),         # the only buyers arrive after 40 -> no_contra_in_window
        contras((9, 2, 10, 1, 50, 1.0), (8, 1, 50, 2, 50, 1.0), (6, 2, 20, 3, 0, 1.0)))
    assert res.reasons == [NOTHING_OFFERED, None, EXHAUSTED, None, NO_CONTRA]
    assert matches(res) == [(2, 9, 50), (4, 8, 50)]


def test_zero_quantity_contra_counts_as_exhausted_not_absent():
    res = simulate_unit(sweeps((1, 1, 0, 10, 5)), contras((2, 2, 5, 1, 0, 1.0)))
    assert res.reasons == [EXHAUSTED]


def test_null_mid_match_stands_with_null_price():
    res = simulate_unit(sweeps((1, 1, 0, 10, 5)), contras((2, 2, 5, 1, 9, None)))
    assert matches(res) == [(1, 2, 5)] and res.price == [None]


def _naive(sw, ct):
    """The spec literally: per sweep, scan every contra (quadratic)."""
    ledger = {i: max(0, q) for i, q in enumerate(ct["quantity"])}
    order = sorted(range(len(ct["order_id"])), key=lambda i: (ct["arrival_ts"][i], ct["arrival_seq"][i],
                                                               ct["order_id"][i]))
    out, reasons = [], []
    for sid, side, ws, we, off in zip(*(sw[k] for k in ("order_id", "side", "window_start", "window_end", "offered"))):
        win = [i for i in order if ct["side"][i] != side and ws <= ct["arrival_ts"][i] <= we]
        left, n = off, 0
        for i in win:
            if left <= 0:
                break
            if ledger[i] == 0:
                continue
            q = min(left, ledger[i])
            ledger[i] -= q
            left -= q
            n += 1
            out.append((sid, ct["order_id"][i], q))
        reasons.append(None if n else NOTHING_OFFERED if off <= 0 else NO_CONTRA if not win else EXHAUSTED)
    return out, reasons


def test_fast_walk_equals_naive_walk_on_random_books():
    rng = random.Random(7)
    for _ in range(200):
        nc, ns = rng.randint(0, 40), rng.randint(0, 15)
        ct = contras(*[(BIG + i, rng.choice([1, 2]), rng.randint(0, 50), rng.randint(0, 3), rng.choice([0, 5, 10, 40]),
                        1.0) for i in range(nc)])
        sw = sweeps(*[(BIG + 1000 + j, rng.choice([1, 2]), a, a + rng.randint(-2, 30), rng.choice([0, 7, 30, 100]))
                      for j, a in enumerate(sorted(rng.randint(0, 50) for _ in range(ns)))])
        res = simulate_unit(sw, ct)
        exp, reasons = _naive(sw, ct)
        assert matches(res) == exp and res.reasons == reasons


def test_batch_splits_units_and_sorts_placement():
    sw = pa.table({"unit_idx": pa.array([1, 0, 0], pa.int32()), "order_id": pa.array([BIG + 3, BIG + 2, BIG + 1], pa.uint64()),
                   "side": [1, 1, 1], "post_entry_ts": [5, 9, 5], "post_entry_seq": [1, 2, 1],
                   "window_start": [5, 9, 5], "window_end": [50, 50, 50], "offered": [10, 10, 10]})
    ct = pa.table({"unit_idx": pa.array([0, 1], pa.int32()), "order_id": pa.array([BIG + 8, BIG + 9], pa.uint64()),
                   "side": [2, 2], "arrival_ts": [20, 20], "arrival_seq": [1, 1], "quantity": [15, 15],
                   "mid": [1.5, None]})
    m, o = simulate_batch(sw, ct)
    assert m.schema == MATCH_SCHEMA
    rows = m.to_pylist()
    assert [(r["unit_idx"], r["sweep_order_id"], r["quantity"]) for r in rows] == [
        (0, BIG + 1, 10), (0, BIG + 2, 5), (1, BIG + 3, 10)]      # unit 0: placement (5,1) before (9,2)
    assert rows[2]["price"] is None
    assert o.to_pylist()[0]["placement_no"] == 1 and o.column("order_id").type == pa.uint64()
