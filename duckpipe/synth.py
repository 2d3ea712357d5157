"""Deterministic generator of realistic synthetic raw ASX files (SPEC §1, §3).

Why: demos, tests and benchmarks need data with every awkward feature of the real feed
(19-digit ids, same-timestamp event pairs, amendments, overnight reloads, sentinel and crossed
quotes, trade reports, bad rows) at any size. Everything is vectorised numpy per
(security, day) and written with pyarrow's CSV writer, so large data sets are written at disk
speed. The same arguments give byte-identical files. The market's conventions (time zone,
price scale, order type bits, dealsource and changereason codes) come from the asx profile.
"""
from __future__ import annotations

import json
import logging
import time
import zlib
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from .profiles import get_profile

log = logging.getLogger(__name__)

ASX = get_profile("asx")
SYDNEY = ZoneInfo(ASX.time_zone)
NS = 1_000_000_000
SENTINEL = int(np.iinfo(np.int64).min)
TICK = ASX.price_scale // 100          # one cent in price units
# exchangeordertype bits, dealsource codes and changereasons of the asx profile
CP, CP_CROSS, SWEEP, CP_BLOCK, SHORT = (ASX.order_type_bits[k] for k in
                                        ("centre_point", "cp_crossing", "sweep", "cp_block", "short_sell"))
DS_LIT, DS_LIT_UCP = ASX.venue_classes["lit"]
DS_CP_PREF, DS_CP, DS_CP_UCP = ASX.venue_classes["centre_point"]
DS_AUCTION, DS_AUCTION_UCP = ASX.venue_classes["auction"]
(DS_REPORT,) = ASX.venue_classes["trade_report"]
CR = ASX.changereasons
ORDER_BASE = 7_904_794_000_000_000_000  # 19 digits, far above 2**53
MATCH_BASE = 7_804_794_000_000_000_000
UNIT_STRIDE = 1_000_000_000  # id space per (day, security)
CPTY_OFFSET = 600_000_000  # counterparty (non Centre Point) order ids inside a unit's space
RELOAD_OFFSET = 900_000_000  # day-one reload orders whose earlier history is not in the data

ORDER_COLUMNS = (
    "order_id,exchange,timestamp,security_code,price,side,changereason,orderstatus,quantity,"
    "leavesquantity,ordertype,exchangeordertype,national_bid,national_offer,bid,offer,participantid,"
    "preferenceonly,midtick,singlefillminimumquantity,minimumquantity,sequence,crossingkey,"
    "totalmatchedquantity,shortsellquantity,triggercondition,timevaliditydecoded,row_num,timevalidity"
).split(",")
TRADE_COLUMNS = (
    "EXCHANGE,sequence,tradedate,tradetime,securitycode,orderid,dealsource,dealsourcedecoded,"
    "exchangeinfo,matchgroupid,nationalbidpricesnapshot,nationalofferpricesnapshot,tradeprice,"
    "quantity,side,sidedecoded,participantid,passiveaggressive,row_num"
).split(",")
NBBO_COLUMNS = "partition,sequence,tradedate,bidprice,creationtime,offerprice,orderbookid,timestamp,userid,runid".split(",")

ETYPES = np.array([SWEEP, CP_BLOCK, CP_BLOCK | SHORT, CP, CP_CROSS, 0])
ETYPE_P = [0.50, 0.35, 0.04, 0.03, 0.03, 0.05]
PARTICIPANTS = np.array([67, 51, 47, 2, 146, 41, 61, 42, 54, 69, 8])
PART_P = np.array([38, 14, 10, 8, 5, 5, 6, 4, 4, 3, 3]) / 100
DEALSOURCE_NAMES = {DS_LIT: "Continuous Lit", DS_REPORT: "Trade Report Crossings", DS_AUCTION: "Auction",
                    DS_LIT_UCP: "Continuous Lit UCP", DS_AUCTION_UCP: "Auction UCP",
                    DS_CP_PREF: "Centre Point Preferencing", DS_CP: "Centre Point", DS_CP_UCP: "Centre Point UCP"}
TIME_VALIDITY = ((256, "Rest of Day"), (0, "Bouncing"), (1288, "Days"))
# rank of an event among the same order's events at one timestamp
R_FIRST, R_ENTRY_FILL, R_FAK, R_AMEND, R_FILL, R_CANCEL, R_PURGE = 0, 2, 3, 4, 10, 50, 60


@dataclass(frozen=True)
class SynthSummary:
    out: Path
    files: list[Path]
    rows: dict[str, int]
    bytes_written: int
    seconds: float
    faults: list[dict]


def business_days(start: date, n: int) -> list[date]:
    """The first n weekdays from start (inclusive): ASX holidays are ignored on purpose."""
    out, d = [], start
    while len(out) < n:
        if d.weekday() < 5:
            out.append(d)
        d += timedelta(days=1)
    return out


def sydney_ns(d: date, hour: int, minute: int = 0, second: int = 0) -> int:
    """Epoch ns of a Sydney wall-clock time: zoneinfo gives AEST/AEDT, never a fixed offset."""
    return int(datetime(d.year, d.month, d.day, hour, minute, second, tzinfo=SYDNEY).timestamp()) * NS


def _at(ts: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Index of the quote in force at each time t (the first quote for times before the open)."""
    return np.maximum(np.searchsorted(ts, t, side="right") - 1, 0)


def _group_cumsum(vals: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Cumulative sum restarting at each group (groups are consecutive runs of given counts)."""
    cs = np.cumsum(vals)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    return cs - np.repeat(np.concatenate(([0], cs))[starts], counts)


def _group_pos(counts: np.ndarray) -> np.ndarray:
    """0-based position of each element within its group."""
    return np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)


def _split(rng: np.random.Generator, totals: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Split each total into `count` positive integer parts (counts <= totals)."""
    gi = np.repeat(np.arange(len(counts)), counts)
    w = rng.random(len(gi)) + 0.05
    wsum = np.bincount(gi, w, minlength=len(counts))
    parts = 1 + np.floor(w / wsum[gi] * (totals - counts)[gi]).astype(np.int64)
    short = totals - np.bincount(gi, parts, minlength=len(counts)).astype(np.int64)
    last = (np.cumsum(counts) - 1)[counts > 0]
    parts[last] += short[counts > 0]
    return parts


def _quotes(rng: np.random.Generator, day: date, bid_ticks: int) -> dict[str, np.ndarray]:
    """NBBO random walk for one security and day: true quotes plus the published (dirty) ones."""
    open_, close = sydney_ns(day, 10), sydney_ns(day, 16)
    n = int((close - open_) / (3 * NS) * 1.3) + 64
    gaps = rng.exponential(3 * NS, n).astype(np.int64) + 1
    ts = open_ + np.concatenate(([0], np.cumsum(gaps[:-1])))
    ts = ts[ts < close]
    n = len(ts)
    dup = rng.random(n) < 0.02
    dup[0] = False
    ts = np.where(dup, np.roll(ts, 1), ts)  # some quotes share a timestamp: sequence breaks ties
    bid = np.maximum(bid_ticks + np.cumsum(rng.choice([-1, 0, 1], n, p=[0.025, 0.95, 0.025])), 10)
    tb = bid * TICK
    to = (bid + rng.choice([1, 2, 3], n, p=[0.7, 0.2, 0.1])) * TICK
    pb, po = tb.copy(), to.copy()
    u = rng.random(n)
    u[0] = 1.0
    pb[u < 0.005] = SENTINEL
    po[(u >= 0.005) & (u < 0.01)] = SENTINEL
    locked = (u >= 0.01) & (u < 0.0125)
    crossed = (u >= 0.0125) & (u < 0.015)
    pb[locked] = po[locked]
    pb[crossed] = po[crossed] + TICK
    return {"ts": ts, "tb": tb, "to": to, "pb": pb, "po": po}


def _new_orders(rng: np.random.Generator, day: date, n: int, id_base: int, q: dict) -> dict[str, np.ndarray]:
    """Order-level attributes of the unit's new orders (entry time, type, side, size, limit)."""
    open_, close = sydney_ns(day, 10), sydney_ns(day, 16)
    etype = rng.choice(ETYPES, n, p=ETYPE_P)
    sweepish = ((etype & SWEEP) > 0) | (etype == 0)
    t0 = np.sort(rng.integers(open_ + NS, close - 600 * NS, n))
    side = rng.integers(1, 3, n)
    q0 = np.where(sweepish, rng.lognormal(5.5, 1.3, n), rng.lognormal(7.0, 1.0, n)).astype(np.int64) + 1
    i = _at(q["ts"], t0)
    b, o = q["tb"][i], q["to"][i]
    k = rng.integers(-1, 4, n) * TICK
    ref_buy, ref_sell = np.where(sweepish, o, (b + o) // 2), np.where(sweepish, b, (b + o) // 2)
    price = np.maximum(np.where(side == 1, ref_buy + k, ref_sell - k), TICK)
    price[rng.random(n) < 0.01] = 0  # market-ish orders
    return {"oid": id_base + np.cumsum(rng.integers(1, 40, n)), "side": side, "price": price, "etype": etype,
            "part": rng.choice(PARTICIPANTS, n, p=PART_P), "q0": q0, "tmq0": np.zeros(n, np.int64),
            "t0": t0, "carry": np.zeros(n, bool)}


def _carry_orders(rng: np.random.Generator, day: date, carry: dict, q: dict) -> dict[str, np.ndarray]:
    """Resting orders reloaded (changereason "reload") at about 21:22 Sydney on the evening before `day`."""
    n = len(carry["oid"])
    t0 = sydney_ns(day - timedelta(days=1), 21, 22) + np.sort(rng.integers(0, 90 * NS, n))
    return {**{k: carry[k] for k in ("oid", "side", "price", "etype", "part", "q0", "tmq0")},
            "t0": t0, "carry": np.ones(n, bool)}


def _plan(rng: np.random.Generator, day: date, o: dict) -> dict[str, np.ndarray]:
    """Each order's fate (filled / partial / not; on entry, FAK, amended, cancelled, purged, carried)."""
    open_, close = sydney_ns(day, 10), sydney_ns(day, 16)
    N = len(o["oid"])
    etype, q0, tmq0, t0, carry = o["etype"], o["q0"], o["tmq0"], o["t0"], o["carry"]
    resting_cp = ((etype & SWEEP) == 0) & (etype != 0)
    u = rng.random(N)
    full_p = np.where(resting_cp, 0.30, 0.62)
    cls = np.where(u < full_p, 2, np.where(u < full_p + np.where(resting_cp, 0.20, 0.15), 1, 0))
    avail = q0 - tmq0
    u2 = rng.random(N)
    full_entry = ~carry & (cls == 2) & (u2 < np.where(resting_cp, 0.1, 0.35))
    fak = ~carry & ~resting_cp & (cls < 2) & (u2 < 0.5)
    ep = ~carry & ~full_entry & (avail >= 2) & (cls > 0) & (fak | (rng.random(N) < 0.3))
    E = np.where(full_entry, avail, np.where(ep, 1 + (rng.random(N) * (avail - 1)).astype(np.int64), 0))
    rest = ~full_entry & ~fak
    base = tmq0 + E
    t_act = np.where(carry, open_ + rng.integers(0, 7200 * NS, N), t0)
    # amendments (changereason "amended") change quantity; they come before any later fill
    n_am = np.where(rest & (rng.random(N) < np.where(resting_cp, 0.25, 0.12)), rng.integers(1, 3, N), 0)
    am_oi = np.repeat(np.arange(N), n_am)
    am_q = np.maximum(base[am_oi] + 1, (q0[am_oi] * rng.uniform(0.3, 2.0, len(am_oi))).astype(np.int64))
    am_t = np.minimum(t_act[am_oi] + _group_cumsum(rng.exponential(30 * NS, len(am_oi)).astype(np.int64) + 1, n_am),
                      close - 5 * NS)
    has_am, am_last = n_am > 0, (np.cumsum(n_am) - 1)[n_am > 0]
    Q, t_s = q0.copy(), t_act.copy()
    Q[has_am], t_s[has_am] = am_q[am_last], am_t[am_last]
    rem = Q - base
    L = np.where(rest & (cls == 2), rem, 0)
    L = np.where(rest & (cls == 1) & (rem >= 2), 1 + (rng.random(N) * (rem - 1)).astype(np.int64), L)
    nf = np.where(L > 0, np.minimum(L, rng.integers(1, 5, N)), 0)
    t_end = np.minimum(t_s + rng.exponential(1200 * NS, N).astype(np.int64) + NS, close - NS)
    fl_oi = np.repeat(np.arange(N), nf)
    fu = rng.random(len(fl_oi))
    fu = fu[np.lexsort((fu, fl_oi))]
    span = (t_end - t_s)[fl_oi]
    fl_t = t_s[fl_oi] + 1 + (fu * (span - 1)).astype(np.int64)
    fl_q = _split(rng, L, nf)
    fl_cum = base[fl_oi] + _group_cumsum(fl_q, nf)
    open_end = rest & (base + L < Q)
    carry_p = np.where((etype & CP_BLOCK) > 0, 0.03, np.where((etype & SWEEP) > 0, 0.005, 0.0))
    carry_out = open_end & ~carry & (rng.random(N) < carry_p)
    purge = open_end & ~carry_out & (rng.random(N) < 0.15)
    cancel = open_end & ~carry_out & ~purge
    return dict(locals())


def _lifecycles(rng: np.random.Generator, day: date, o: dict, purge_ts: int):
    """Vectorised order lifecycles: event rows, fill events for the trades, and tomorrow's carry."""
    p = _plan(rng, day, o)
    N, t0, q0, tmq0, carry, E, base, Q, etype = (p[k] for k in ("N", "t0", "q0", "tmq0", "carry", "E", "base", "Q", "etype"))
    am_oi, am_t, am_q, n_am, fl_oi, fl_t, fl_q, fl_cum, nf = (
        p[k] for k in ("am_oi", "am_t", "am_q", "n_am", "fl_oi", "fl_t", "fl_q", "fl_cum", "nf"))
    full_entry, fak, t_end = p["full_entry"], p["fak"], p["t_end"]
    final_tmq = base + p["L"]

    def block(idx, ts, rank, cr, st, qty, tmq):
        n = len(idx)
        f = lambda v: np.broadcast_to(np.asarray(v, np.int64), (n,))  # noqa: E731
        return [idx, f(ts), f(rank), f(cr), f(st), f(qty), f(tmq)]

    first_cr = np.where(carry, CR["reload"], CR["new"])
    ar = np.arange(N)
    m_e, m_c, m_p = np.flatnonzero(E > 0), np.flatnonzero(p["cancel"]), np.flatnonzero(p["purge"])
    blocks = [
        block(ar, t0, R_FIRST, first_cr, 2, q0, tmq0),  # "incoming"
        block(ar, t0, R_FIRST + 1, first_cr, 1, q0, tmq0),  # "on book", same timestamp
        block(m_e, t0[m_e], R_ENTRY_FILL, CR["traded"], np.where(full_entry | fak, 2, 1)[m_e], q0[m_e], base[m_e]),
        block(np.flatnonzero(fak), t0[fak], R_FAK, CR["system_cancel"], 2, q0[fak], base[fak]),
        block(am_oi, am_t, R_AMEND + _group_pos(n_am), CR["amended"], 1, am_q, base[am_oi]),
        block(fl_oi, fl_t, R_FILL + _group_pos(nf), CR["traded"], np.where(fl_cum < Q[fl_oi], 1, 2), Q[fl_oi],
              fl_cum),
        block(m_c, t_end[m_c], R_CANCEL, CR["trader_cancel"], 2, Q[m_c], final_tmq[m_c]),
        block(m_p, purge_ts, R_PURGE, CR["end_of_day_purge"], 4, Q[m_p], final_tmq[m_p]),
    ]
    ev = dict(zip(("oi", "ts", "rank", "cr", "st", "qty", "tmq"), (np.concatenate(c) for c in zip(*blocks))))
    fills = {"oi": np.concatenate([m_e, fl_oi]), "ts": np.concatenate([t0[m_e], fl_t]),
             "qty": np.concatenate([E[m_e], fl_q]), "agg": np.concatenate([np.ones(len(m_e), np.int64),
                                                                            np.zeros(len(fl_oi), np.int64)])}
    c = np.flatnonzero(p["carry_out"])
    nxt = {"oid": o["oid"][c], "side": o["side"][c], "price": o["price"][c], "etype": etype[c],
           "part": o["part"][c], "q0": Q[c], "tmq0": final_tmq[c]}
    return ev, fills, nxt


def _order_rows(rng: np.random.Generator, o: dict, ev: dict, q: dict) -> dict[str, np.ndarray]:
    """Expand events to the varying order columns (constant and file-level ones are added per day)."""
    N = len(o["oid"])
    order = np.lexsort((ev["rank"], ev["oi"], ev["ts"]))
    ev = {k: v[order] for k, v in ev.items()}
    oi, n = ev["oi"], len(order)
    i = _at(q["ts"], ev["ts"])
    nb, no = q["pb"][i], q["po"][i]
    gone = rng.random(n) < 0.005  # snapshot missing: exercises the fallback to the nbbo table
    tv = np.where(o["carry"], 2, rng.choice([0, 1], N, p=[0.9, 0.1]))[oi]
    etype = o["etype"][oi]
    return {
        "order_id": o["oid"][oi], "timestamp": ev["ts"],
        "price": o["price"][oi], "side": o["side"][oi], "changereason": ev["cr"], "orderstatus": ev["st"],
        "quantity": ev["qty"], "leavesquantity": ev["qty"] - ev["tmq"],
        "exchangeordertype": etype, "national_bid": nb, "national_bid!null": gone | (nb == SENTINEL),
        "national_offer": no, "national_offer!null": gone | (no == SENTINEL), "participantid": o["part"][oi],
        "midtick": rng.choice([2, 1, 3], N, p=[0.8, 0.17, 0.03])[oi],
        "singlefillminimumquantity": rng.choice([2, 0, 1], N, p=[0.7, 0.2, 0.1])[oi],
        "minimumquantity": np.where(rng.random(N) < 0.05, rng.integers(1, 200, N), 0)[oi],
        "crossingkey": np.where(rng.random(N) < 0.5, 0, rng.choice([1, 2, 555, 99999, 194035], N))[oi],
        "totalmatchedquantity": ev["tmq"], "shortsellquantity": np.where((etype & SHORT) > 0, ev["qty"], 0),
        "timevaliditydecoded": tv,
        "timevalidity": np.array([t[0] for t in TIME_VALIDITY])[tv],
    }


def _fill_trades(rng: np.random.Generator, o: dict, fills: dict, q: dict, id_base: int) -> tuple:
    """Match groups of the file's order fills: one to a few per fill event, at the touch or mid."""
    N, F = len(o["oid"]), len(fills["oi"])
    etype = o["etype"][fills["oi"]]
    lit, cp = etype == 0, ((etype & SWEEP) == 0) & (etype != 0)
    all_one = (rng.random(N) < 0.6)[fills["oi"]]  # many sweeps fill only on continuous lit: qualifying
    mixed = rng.choice([DS_LIT, DS_LIT_UCP, DS_CP, DS_CP_PREF, DS_CP_UCP], F, p=[0.45, 0.25, 0.2, 0.05, 0.05])
    ds_f = np.where(lit, rng.choice([DS_LIT, DS_LIT_UCP], F, p=[0.8, 0.2]),
                    np.where(cp, rng.choice([DS_CP, DS_CP_PREF, DS_CP_UCP], F, p=[0.8, 0.12, 0.08]),
                             np.where(all_one, DS_LIT, mixed)))
    m = np.minimum(np.where(fills["agg"] == 1, 1 + (rng.random(F) < 0.35) * rng.integers(1, 6, F),
                            1 + (rng.random(F) < 0.1)), fills["qty"])
    g_oi = np.repeat(fills["oi"], m)
    ts, qty = np.repeat(fills["ts"], m), _split(rng, fills["qty"], m)
    agg, ds = np.repeat(fills["agg"], m), np.repeat(ds_f, m)
    i = _at(q["ts"], ts)
    b, a = q["tb"][i], q["to"][i]
    buy = o["side"][g_oi] == 1
    price = np.where(np.isin(ds, [DS_LIT, DS_LIT_UCP]), np.where(buy == (agg == 1), a, b), (b + a) // 2)
    cp_id, cpty = o["oid"][g_oi], id_base + CPTY_OFFSET + rng.integers(0, 2 * N + 10, len(g_oi))
    cp_part, cpty_part = o["part"][g_oi], rng.choice(PARTICIPANTS, len(g_oi), p=PART_P)
    return (ts, ds, price, qty, np.where(buy, cp_id, cpty), np.where(buy, cpty, cp_id),
            np.where(buy, cp_part, cpty_part), np.where(buy, cpty_part, cp_part),
            np.where(buy, agg, 1 - agg), np.where(buy, 1 - agg, agg))


def _market_trades(rng: np.random.Generator, day: date, q: dict, N: int, id_base: int) -> list[tuple]:
    """Match groups not involving the file's orders: continuous lit, opening auction, trade reports."""
    open_, close = sydney_ns(day, 10), sydney_ns(day, 16)
    cpty = lambda shape: id_base + CPTY_OFFSET + rng.integers(0, 2 * N + 10, shape)  # noqa: E731
    n_lit, n_auc, n_rep = N * 3 // 10 + 1, max(5, N // 100), max(2, N // 20)
    t = rng.integers(open_, close, n_lit)
    i = _at(q["ts"], t)
    aggr = rng.integers(0, 2, n_lit)
    ids, parts = cpty((2, n_lit)), rng.choice(PARTICIPANTS, (2, n_lit), p=PART_P)
    lit = (t, rng.choice([DS_LIT, DS_LIT_UCP], n_lit, p=[0.8, 0.2]), np.where(aggr == 1, q["to"][i], q["tb"][i]),
           rng.lognormal(5, 1.2, n_lit).astype(np.int64) + 1, ids[0], ids[1], parts[0], parts[1], aggr, 1 - aggr)
    t = np.full(n_auc, open_ + int(rng.integers(0, 60 * NS)))
    mid = (q["tb"][0] + q["to"][0]) // 2 // TICK * TICK
    ids, parts, zeros = cpty((2, n_auc)), rng.choice(PARTICIPANTS, (2, n_auc), p=PART_P), np.zeros(n_auc, np.int64)
    auction = (t, rng.choice([DS_AUCTION, DS_AUCTION_UCP], n_auc, p=[0.95, 0.05]), np.full(n_auc, mid),
               rng.lognormal(6, 1.5, n_auc).astype(np.int64) + 1, ids[0], ids[1], parts[0], parts[1], zeros, zeros)
    t = rng.integers(open_, close, n_rep)
    i = _at(q["ts"], t)
    rid, rpart, zeros = cpty(n_rep), rng.choice(PARTICIPANTS, n_rep), np.zeros(n_rep, np.int64)
    report = (t, np.full(n_rep, DS_REPORT), (q["tb"][i] + q["to"][i]) // 2, rng.lognormal(5, 1.5, n_rep).astype(np.int64) + 1,
              rid, rid, rpart, rpart, zeros, zeros)  # same order id on both rows
    return [lit, auction, report]


def _trade_rows(rng: np.random.Generator, groups: list[tuple], q: dict, mg_base: int) -> dict[str, np.ndarray]:
    """Two rows per match group (buy, then sell), groups in time order with increasing ids."""
    ts, ds, price, qty, b_id, s_id, b_part, s_part, b_agg, s_agg = (np.concatenate(c) for c in zip(*groups))
    order = np.argsort(ts, kind="stable")
    ts, ds, price, qty = ts[order], ds[order], price[order], qty[order]
    G = len(ts)
    i = _at(q["ts"], ts)
    two = lambda x, y: np.stack((x[order], y[order]), axis=1).ravel()  # noqa: E731
    dup = lambda v: np.repeat(v, 2)  # noqa: E731
    ds2 = dup(ds)
    return {
        "tradetime": dup(ts), "orderid": two(b_id, s_id), "dealsource": ds2,
        "dealsourcedecoded": np.searchsorted(DS_CODES, ds2), "exchangeinfo": (ds2 == DS_REPORT).astype(np.int64),
        "matchgroupid": dup(mg_base + np.cumsum(rng.integers(1, 3, G))),
        "nationalbidpricesnapshot": dup(q["tb"][i]), "nationalofferpricesnapshot": dup(q["to"][i]),
        "tradeprice": dup(price), "quantity": dup(qty), "side": np.tile([1, 2], G), "sidedecoded": np.tile([0, 1], G),
        "participantid": two(b_part, s_part), "passiveaggressive": two(b_agg, s_agg),
    }


DS_CODES = np.array(sorted(DEALSOURCE_NAMES))
CATEGORIES = {"timevaliditydecoded": [t[1] for t in TIME_VALIDITY],
              "dealsourcedecoded": [DEALSOURCE_NAMES[int(c)] for c in DS_CODES],
              "exchangeinfo": ["ON Market", "OFF Market"], "sidedecoded": ["Buy", "Sell"]}


def _nbbo_rows(q: dict) -> dict[str, np.ndarray]:
    """Published quotes, sentinel and crossed ones included; tradedate = Sydney midnight in ns."""
    return {"bidprice": q["pb"], "offerprice": q["po"], "timestamp": q["ts"]}


def _fresh_carry(rng: np.random.Generator, n: int, id_base: int, q: dict) -> dict[str, np.ndarray]:
    """Day one's reloaded orders: resting since an earlier day that is not in the data set."""
    k = max(2, n * 15 // 1000)
    q0 = rng.lognormal(6.5, 1.0, k).astype(np.int64) + 2
    side = rng.integers(1, 3, k)
    mid = (q["tb"][0] + q["to"][0]) // 2
    return {"oid": id_base + RELOAD_OFFSET + np.cumsum(rng.integers(1, 1000, k)), "side": side,
            "price": np.maximum(mid + np.where(side == 1, -1, 1) * rng.integers(0, 5, k) * TICK, TICK),
            "etype": rng.choice([CP_BLOCK, SWEEP, CP_BLOCK | SHORT], k, p=[0.6, 0.35, 0.05]), "part": rng.choice(PARTICIPANTS, k, p=PART_P),
            "q0": q0, "tmq0": np.zeros(k, np.int64)}  # unfilled so far: every tmq is backed by trades


def _concat(parts: list[dict]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _take(cols: dict, order: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[order] for k, v in cols.items()}


def _unit(seed: int, di: int, si: int, n_sec: int, day: date, n: int, state: dict):
    """One (security, day): quotes, orders (new + reloaded), lifecycles, order/trade/nbbo rows."""
    rng = np.random.default_rng([seed, di, si])
    unit = di * n_sec + si
    id_base = ORDER_BASE + unit * UNIT_STRIDE
    q = _quotes(rng, day, state["bid"][si])
    state["bid"][si] = int(q["tb"][-1] // TICK)
    if di == 0:
        state["carry"][si] = _fresh_carry(rng, n, id_base, q)
    new, old = _new_orders(rng, day, n, id_base, q), _carry_orders(rng, day, state["carry"][si], q)
    o = {k: np.concatenate([new[k], old[k]]) for k in new}
    ev, fills, state["carry"][si] = _lifecycles(rng, day, o, sydney_ns(day, 18, 50) + 1_987_029)
    orders = _order_rows(rng, o, ev, q)
    groups = [_fill_trades(rng, o, fills, q, id_base)] + _market_trades(rng, day, q, len(o["oid"]), id_base)
    rows = (orders, _trade_rows(rng, groups, q, MATCH_BASE + unit * UNIT_STRIDE), _nbbo_rows(q))
    for r in rows:
        k = len(next(iter(r.values())))
        r["_sec"], r["_pos"] = np.full(k, si), np.arange(k)
    return rows


def _day(seed: int, di: int, day: date, secs: list[int], n: int, state: dict) -> dict[str, dict]:
    """All securities of one business day, each table sorted by time, with file-level sequences."""
    units = [list(_unit(seed, di, si, len(secs), day, n, state)) for si in range(len(secs))]
    out = {}
    for t, (name, tcol) in enumerate((("orders", "timestamp"), ("trades", "tradetime"), ("nbbo", "timestamp"))):
        cols = _concat([u[t] for u in units])
        for u in units:
            u[t] = None
        out[name] = _take(cols, np.lexsort((cols["_pos"], cols["_sec"], cols[tcol])))
        del cols
    o, tr = out["orders"], out["trades"]
    # one sequence space for order events and trades, as on the exchange; a match group's rows adjacent
    rng = np.random.default_rng([seed, di, 1 << 30])
    all_ts = np.concatenate([o["timestamp"], tr["tradetime"]])
    order = np.argsort(all_ts, kind="stable")
    gaps = rng.integers(1, 4, len(all_ts))
    gaps[np.concatenate([np.zeros(len(o["timestamp"]), bool), tr["side"] == 2])[order]] = 1
    seq = np.empty(len(all_ts), np.int64)
    seq[order] = state["seq"] + np.cumsum(gaps)
    state["seq"] = int(seq.max(initial=state["seq"]))
    o["sequence"], tr["sequence"] = seq[: len(o["timestamp"])], seq[len(o["timestamp"]):]
    out["nbbo"]["sequence"] = np.arange(1, len(out["nbbo"]["timestamp"]) + 1)
    codes = np.asarray(secs, np.int64)
    for cols in out.values():
        n = len(cols["_pos"])
        cols["row_num"] = np.arange(1, n + 1)
        for name, v in CONSTANTS.items():
            cols[name] = np.full(n, sydney_ns(day, 0) if v is None else v, np.int64)
        for name in ("security_code", "securitycode", "orderbookid"):
            cols[name] = codes[cols["_sec"]]
    tr["tradedate"] = np.zeros(len(tr["_pos"]), np.int64)  # code of the day's text date
    out["nbbo"]["creationtime"] = out["nbbo"]["timestamp"]
    for side in ("bid", "offer"):
        o[side], o[side + "!null"] = o["national_" + side], o["national_" + side + "!null"]
    return out


# columns with one value per file (None: Sydney midnight of the day, the nbbo tradedate)
CONSTANTS = {"exchange": 3, "EXCHANGE": 3, "ordertype": 1, "preferenceonly": 0, "triggercondition": 0,
             "partition": 1, "userid": 0, "runid": 0, "tradedate": None}


WRITE_OPTIONS = pacsv.WriteOptions(include_header=False, quoting_style="none", batch_size=1 << 16)


def _arrow(cols: dict, names: list[str], cats: dict[str, list[str]]) -> pa.Table:
    """Typed Arrow table: nullable ints via masks, text columns as dictionary codes."""
    arrays = []
    for name in names:
        v = cols[name]
        if name in cats:
            arrays.append(pa.DictionaryArray.from_arrays(pa.array(v.astype(np.int32)), pa.array(cats[name])))
        else:
            arrays.append(pa.array(v, mask=cols.get(name + "!null")))
    return pa.table(arrays, names=names)


def _csv_slice(table: pa.Table, start: int, rows: int) -> pa.Buffer:
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table.slice(start, rows), sink, WRITE_OPTIONS)
    return sink.getvalue()


def _csv_chunks(table: pa.Table, pool: ThreadPoolExecutor, rows: int = 200_000) -> Iterator[bytes | pa.Buffer]:
    """CSV bytes in order, slices formatted on all cores (pyarrow frees the GIL), a few in flight.

    The header is written by hand: pyarrow would quote the names.
    """
    yield (",".join(table.column_names) + "\n").encode()
    futures: deque = deque()
    for start in range(0, table.num_rows, rows):
        futures.append(pool.submit(_csv_slice, table, start, rows))
        if len(futures) > 2:
            yield futures.popleft().result()
    while futures:
        yield futures.popleft().result()


FAULT_KINDS = ("non_numeric", "missing_column", "extra_column", "invalid_utf8", "blank_line",
               "repeated_header", "truncated_last_line")
FAULT_PLAN = {  # table -> [(kind, column)] in file order; the truncated line always ends the file
    "orders": [("non_numeric", "quantity"), ("missing_column", "timevalidity"), ("blank_line", None),
               ("extra_column", None), ("invalid_utf8", "timevaliditydecoded"), ("repeated_header", None),
               ("non_numeric", "order_id")],
    "trades": [("non_numeric", "tradeprice"), ("missing_column", "row_num"), ("blank_line", None),
               ("extra_column", None), ("invalid_utf8", "dealsourcedecoded"), ("repeated_header", None)],
    "nbbo": [("non_numeric", "bidprice"), ("missing_column", "runid"), ("blank_line", None),
             ("extra_column", None), ("invalid_utf8", "userid"), ("repeated_header", None)],
}


def _bad_line(kind: str, column: str | None, header: bytes, row: bytes, names: list[str]) -> bytes:
    """A malformed line of the given kind, derived from a good row so that only the fault differs."""
    fields = row.split(b",")
    if kind in ("non_numeric", "invalid_utf8"):
        c = names.index(column)
        v = fields[c] or b"0"
        mid = len(v) // 2
        fields[c] = v[:mid] + (b"O" if kind == "non_numeric" else b"\xff\xfe") + v[mid + 1:]
        return b",".join(fields)
    if kind == "missing_column":
        return b",".join(fields[:-1])
    if kind == "extra_column":
        return row + b",0"
    if kind == "repeated_header":
        return header
    if kind == "truncated_last_line":
        return b",".join(fields[: len(fields) // 2]) + b"," + fields[len(fields) // 2][:1]
    return b""


def _inject(data: bytes, table: str, names: list[str], rel: str) -> tuple[list, list[dict]]:
    """Insert the table's fault lines between good rows; return byte chunks and fault records."""
    raw = memoryview(data)
    nl = np.flatnonzero(np.frombuffer(data, np.uint8) == 10)
    n = len(nl) - 1  # data rows
    header = bytes(raw[: nl[0]])
    plan = FAULT_PLAN[table] + [("truncated_last_line", None)]
    chunks, faults, cut = [], [], 0
    for j, (kind, column) in enumerate(plan):
        last = kind == "truncated_last_line"
        r = n if last else max(1, n * (j + 1) // len(plan))  # insert after data row r
        row = bytes(raw[nl[r - 1] + 1: nl[r]])
        chunks.append(raw[cut: nl[r] + 1])
        cut = nl[r] + 1
        chunks.append(_bad_line(kind, column, header, row, names) + (b"" if last else b"\n"))
        faults.append({"file": rel, "line": 2 + r + j, "kind": kind, "column": column})
    return chunks, faults


def _write(path: Path, chunks: Iterable, gz: bool) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        if not gz:
            for c in chunks:
                f.write(c)
        else:  # wbits 31: gzip container with mtime 0, so the bytes are reproducible
            z = zlib.compressobj(1, zlib.DEFLATED, 31)
            for c in chunks:
                f.write(z.compress(c))
            f.write(z.flush())
    return path.stat().st_size


def _emit(path: Path, table: pa.Table, pool: ThreadPoolExecutor, faults: bool, gz: bool
          ) -> tuple[int, dict, list[dict]]:
    """Write one table file (faults inserted if asked): bytes on disk, expected counts, faults."""
    rel = "/".join(path.parts[-2:])
    chunks, fl = _csv_chunks(table, pool), []
    if faults:
        chunks, fl = _inject(b"".join(chunks), path.parts[-2], table.column_names, rel)
    size = _write(path, chunks, gz)
    n, bad = table.num_rows, sum(f["kind"] != "blank_line" for f in fl)
    return size, {"good_rows": n, "bad_rows": bad, "blank_lines": len(fl) - bad, "rows_read": n + bad,
                  "lines": 1 + n + len(fl)}, fl


REFERENCE_HEADER = (
    " Partition,Sequence,TradeDate,Action,BusinessDate,ContractName,ContractSize,CouponFrequency,CouponInterest,"
    "Currency,CurrencyRelation,CurrencyUnit,DatedDate,DayCountConvention,DecimalsInContractSize,"
    "DecimalsInNominalValue,DecimalsInPrice,DecimalsInQuantity,DecimalsInStrikePrice,DecimalsInTermCurrencyQuantity,"
    "DerivativeLevel,ExchangeId,ExpirationDate,FirstTradingDate,FixedIncomeType,GroupType,Id,InstrumentClassId,"
    "InstrumentGroupId,IsinCode,IssuerId,LastTradingDate,MarketId,Modifier,Name,NextCouponDate,NominalValue,"
    "OptionStyle,OptionType,OrderTypeAttributes,OrderValidityAttributes,PriceQuotationFactor,PriceUnit,Sector,"
    "SettlementDate,StrikePrice,Timestamp,UnderlyingId,UnderlyingIssuerName,UnderlyingName,UpperLevelOrderBookId,"
    "isActive,isIndexMarket,isParticipantDefined,isTradedInGenium,isTradingAtSettlement,isWarrant,timestamp_bucket"
)
SESSION_HEADER = " Partition,Sequence,TradeDate,Id,Level,MatchingType,Name,OrderBookId,Timestamp,Type,isEndOfTrading"
PARTICIPANT_HEADER = ("Partition,Sequence,TradeDate,Action,ClearingHouseId,ExchangeId,ExchangeName,Id,OrganisationNumber,"
                      "ParticipantLongName,ParticipantName,ParticipantType,Timestamp,isActive,timestamp_bucket")


def _reference_files(secs: list[int], day: date) -> dict[str, list[str]]:
    """Small Genium files in the sample's layout (leading spaces in session and reference)."""
    td, op = sydney_ns(day, 0), sydney_ns(day, 10)
    session = [SESSION_HEADER] + [f" 4,{1000012 + i},{td},12,1,1,OPEN,{s},{op},0,0" for i, s in enumerate(secs)]
    ref = [REFERENCE_HEADER] + [
        f" ASX,{i + 1},{td},NEW,{td},SYNTH SECURITY {s},1,,0.0,{ASX.currency_code},,,0,,0,0,2,0,0,0,,3,0,1703250000000000000,,Cash,"
        f"{s},1,1,AU{s}999,1,1766322000000000000,1,,Synthetic Security {s},0,0,,,"
        f'"LimitAllowed,CenterPointSweepLimitAllowed","FillOrKillAllowed,FillAndKillAllowed",1.0,Price,Technology,'
        f"0,0.0,{td},0,,,0,True,False,False,True,False,False,{td // NS}" for i, s in enumerate(secs)]
    ids = [67, 51, 47, 2, 146, 1001, 1002]  # the last two join no order: as in real reference data
    par = [PARTICIPANT_HEADER] + [
        f"ASX,{i + 1},{td},NEW,1,1,ASX,{p},ORG{p},Broker{p} Securities Pty Ltd,Broker{p},"
        f"{'Market Maker' if i % 3 == 2 else 'Broker'},{td},True,{td // NS}" for i, p in enumerate(ids)]
    return {"session/session.csv": session, "reference/ob.csv": ref, "participants/par.csv": par}


def synth(out: Path, *, securities: int = 3, days: int = 2, orders_per_unit: int = 500, seed: int = 1,
          faults: bool = False, gzip: bool = False, start_date: date = date(2024, 9, 2)) -> SynthSummary:
    """Write the synthetic raw files under `out`; same arguments, byte-identical files."""
    t_start = time.perf_counter()
    if securities < 1 or days < 1 or not 1 <= orders_per_unit <= 10_000_000:
        raise ValueError("securities and days must be >= 1, orders_per_unit in 1..10,000,000")
    out = Path(out)
    secs = [100001 + i for i in range(securities)]
    ext = ".csv.gz" if gzip else ".csv"
    rng0 = np.random.default_rng([seed, 1 << 31])
    state = {"bid": list((np.exp(rng0.uniform(np.log(300), np.log(5000), securities))).astype(np.int64)),
             "carry": [None] * securities, "seq": 1_000_000}
    files, fault_list, expected = [], [], {}
    rows = {t: 0 for t in ("orders", "trades", "nbbo", "session", "reference", "participants")}
    nbytes = 0
    specs = (("orders", ORDER_COLUMNS), ("trades", TRADE_COLUMNS), ("nbbo", NBBO_COLUMNS))
    with ThreadPoolExecutor(max_workers=2) as pool:
        for di, day in enumerate(business_days(start_date, days)):
            tables = _day(seed, di, day, secs, orders_per_unit, state)
            for table, names in specs:
                rel = f"{table}/synth_{day:%Y%m%d}_{table}{ext}"
                cats = {**CATEGORIES, "tradedate": [day.isoformat()]} if table == "trades" else CATEGORIES
                size, expected[rel], fl = _emit(out / rel, _arrow(tables.pop(table), names, cats), pool,
                                               faults and di == 0, gzip)
                nbytes += size
                rows[table] += expected[rel]["good_rows"]
                fault_list += fl
                files.append(out / rel)
            log.debug("synth: %s written (%d order events so far)", day, rows["orders"])
    for rel, lines in _reference_files(secs, business_days(start_date, 1)[0]).items():
        nbytes += _write(out / rel, [("\n".join(lines) + "\n").encode()], False)
        rows[rel.split("/")[0]] = len(lines) - 1
        expected[rel] = {"good_rows": len(lines) - 1, "bad_rows": 0, "blank_lines": 0,
                         "rows_read": len(lines) - 1, "lines": len(lines)}
        files.append(out / rel)
    for name, obj in (("faults.json", fault_list), ("expected.json", expected)):
        nbytes += _write(out / name, [json.dumps(obj, indent=1, sort_keys=True).encode()], False)
        files.append(out / name)
    written = set(files)
    stale = sorted(str(f) for t, _ in specs for f in (out / t).iterdir() if f not in written)
    if stale:
        log.warning("synth: %s holds %d files this run did not write (e.g. %s): ingest would read them",
                    out, len(stale), stale[0])
    seconds = time.perf_counter() - t_start
    log.info("synth: %d files, %.1f MB in %.2f s (%.0f MB/s)", len(files), nbytes / 1e6, seconds,
             nbytes / 1e6 / max(seconds, 1e-9))
    return SynthSummary(out=out, files=files, rows=rows, bytes_written=nbytes, seconds=seconds, faults=fault_list)
