"""A plain, obviously-correct pure-Python implementation of SPEC §5.1-§5.7 and §5.10, row by row.

Independent of the SQL: it reads the same view-shaped rows (dicts, order ids as Python ints) and
follows the spec text literally, one unit at a time, with naive loops (the dark simulation scans
every contra for every sweep). Used by the tests to check duckpipe.analysis.steps.compute_batch.
"""
from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

SYD = ZoneInfo("Australia/Sydney")
CP_BITS = 64 | 256 | 2048 | 4096
NEG_INF = float("-inf")


def local(ts: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts // 10**9, tz=dt.UTC).astimezone(SYD).replace(
        microsecond=(ts // 1000) % 10**6)


def business_date(ts: int, rollover: str | None) -> dt.date:
    t = local(ts)
    if rollover is not None:
        hh, mm = map(int, rollover.split(":"))
        if t.time() >= dt.time(hh, mm):
            return t.date() + dt.timedelta(days=1)
    return t.date()


def sign(side: int) -> int | None:
    return {1: 1, 2: -1}.get(side)


def valid(bid: Any, offer: Any) -> bool:
    return bid is not None and offer is not None and 0 < bid < offer


class Quotes:
    """Valid quotes per (security, business date); mid_at follows §3 literally."""

    def __init__(self, nbbo: list[dict], rollover: str | None):
        self.by_unit: dict[tuple, list[dict]] = defaultdict(list)
        for q in nbbo:
            if valid(q["bidprice"], q["offerprice"]):
                self.by_unit[(q["security_code"], business_date(q["timestamp"], rollover))].append(q)

        # sorted by (timestamp, sequence; a missing sequence first): the last key <= (t, +inf) is the
        # last quote at or before t, the larger sequence among equal timestamps
        self.sorted: dict[tuple, tuple[list, list]] = {}
        for unit, qs in self.by_unit.items():
            qs = sorted(qs, key=self._key)
            self.sorted[unit] = ([self._key(q) for q in qs], qs)

    @staticmethod
    def _key(q: dict) -> tuple:
        return (q["timestamp"], NEG_INF if q.get("sequence") is None else q["sequence"])

    def quote_at(self, sec: int, date: dt.date, t: int) -> dict | None:
        keys, qs = self.sorted.get((sec, date), ([], []))
        i = bisect.bisect_right(keys, (t, float("inf")))
        return qs[i - 1] if i else None

    def mid_at(self, sec: int, date: dt.date, t: int) -> float | None:
        q = self.quote_at(sec, date, t)
        return None if q is None else (q["bidprice"] + q["offerprice"]) / 2


def bucket_of(q: int | None, edges: list[int]) -> str | None:
    if q is None:
        return None
    if q < edges[0]:
        return f"<{edges[0]}"
    for lo, hi in zip(edges, edges[1:]):
        if lo <= q < hi:
            return f"{lo}-{hi - 1}"
    return f">={edges[-1]}"


def run(orders: list[dict], trades: list[dict], nbbo: list[dict], units: list[tuple[int, dt.date]],
        params: dict | None = None, scenarios: list[dict] | None = None) -> dict[str, list[dict]]:
    """All result tables for ``units`` (rows must be 'completed' view rows)."""
    p = {"qualifying_dealsources": [1], "session_window": None, "participants": [], "day_rollover": None,
         "size_buckets": [100, 1000, 10000], "markout_horizons": [1, 5, 30, 60, 300],
         "liquidity_horizon_s": 300, **(params or {})}
    from duckpipe.settings import DEFAULT_SCENARIOS
    scenarios = scenarios if scenarios is not None else DEFAULT_SCENARIOS
    roll = p["day_rollover"]
    quotes = Quotes(nbbo, roll)
    out: dict[str, list[dict]] = {k: [] for k in
                                  ("order_states", "sweeps", "scenario_costs", "dark_matches", "dark_sweeps",
                                   "markouts", "liquidity")}
    unit_set = set(units)

    # §5.1 events of each order within each unit
    events: dict[tuple, list[dict]] = defaultdict(list)
    for o in orders:
        u = (o["security_code"], business_date(o["timestamp"], roll))
        if u in unit_set:
            events[u + (o["order_id"],)].append(o)
    unit_trades: dict[tuple, list[dict]] = defaultdict(list)
    all_trades: dict[tuple, list[dict]] = defaultdict(list)
    for t in trades:
        d = business_date(t["tradetime"], roll) if roll else t["tradedate"]
        unit_trades[(t["security_code"], d, t["orderid"])].append(t)
        all_trades[(t["security_code"], d)].append(t)

    for sec, date in sorted(set(units)):
        states = []
        unit_events = []
        for (s, d, oid), evs in events.items():
            if (s, d) != (sec, date):
                continue
            evs = sorted(evs, key=lambda e: (e["timestamp"], e["seq"]))
            arrival, final = evs[0], evs[-1]
            if (final["exchangeordertype"] & CP_BITS) == 0:
                continue                                  # the final event decides
            if p["session_window"]:
                a, b = p["session_window"].split("-")
                tt = local(arrival["timestamp"]).time()
                if not (dt.time.fromisoformat(a) <= tt < dt.time.fromisoformat(b)):
                    continue
            if p["participants"] and arrival["participantid"] not in p["participants"]:
                continue
            post = [e for e in evs if e["timestamp"] == arrival["timestamp"]][-1]
            unit_events.extend(evs)
            states.append(_state(sec, date, oid, evs, arrival, post, final, quotes, p["size_buckets"]))
        out["order_states"].extend(states)
        has_cr = any(e.get("changereason") is not None for e in unit_events)

        sweeps = []
        for st in states:
            if not st["exchangeordertype"] & 2048:
                continue
            sw = _sweep(st, unit_trades.get((sec, date, st["order_id"]), []), quotes, has_cr,
                        p["qualifying_dealsources"])
            sweeps.append(sw)
        out["sweeps"].extend(sweeps)
        for sw in sweeps:
            if sw["group_id"] in (1, 2):
                out["scenario_costs"].extend(_scenarios(sw, scenarios))
        m, ds = _simulate(sec, date, states, [s for s in sweeps if s["qualifying"]])
        out["dark_matches"].extend(m)
        out["dark_sweeps"].extend(ds)
        out["markouts"].extend(_markouts(sweeps, unit_trades, m, quotes, p["markout_horizons"]))
        out["liquidity"].extend(_liquidity(sec, date, all_trades.get((sec, date), []), quotes,
                                           p["liquidity_horizon_s"]))
    return out


def _state(sec, date, oid, evs, arrival, post, final, quotes: Quotes, edges) -> dict:
    nb, no = arrival.get("national_bid"), arrival.get("national_offer")
    nbbo_mid = quotes.mid_at(sec, date, arrival["timestamp"])
    q = quotes.quote_at(sec, date, arrival["timestamp"])
    if valid(nb, no):
        mid, spread = (nb + no) / 2, float(no - nb)
    elif q is not None:
        mid, spread = nbbo_mid, float(q["offerprice"] - q["bidprice"])
    else:
        mid = spread = None
    return {
        "security_code": sec, "date": date, "order_id": oid, "side": arrival["side"],
        "exchangeordertype": final["exchangeordertype"], "participantid": arrival["participantid"],
        "events": len(evs),
        "arrival_ts": arrival["timestamp"], "arrival_seq": arrival["seq"],
        "post_entry_ts": post["timestamp"], "post_entry_seq": post["seq"],
        "final_ts": final["timestamp"], "final_seq": final["seq"],
        "arrival_price": arrival["price"], "arrival_quantity": arrival["quantity"],
        "post_entry_leaves": post["leavesquantity"], "final_quantity": final["quantity"],
        "final_leaves": final["leavesquantity"], "final_tmq": final["totalmatchedquantity"],
        "final_changereason": final.get("changereason"),
        "has_new_event": any(e.get("changereason") == 6 for e in evs),
        "arrival_mid": mid, "arrival_spread": spread, "nbbo_arrival_mid": nbbo_mid,
        "arrival_hour": local(arrival["timestamp"]).hour,
        "size_bucket": bucket_of(arrival["quantity"], edges),
    }


def _sweep_fills(trades: list[dict]) -> list[dict]:
    """§5.4: a sweep's trades; a trade report (dealsource 5) appears twice with the same order id:
    count it once."""
    fills, seen = [], set()
    for t in sorted(trades, key=lambda t: (t["sequence"] is None, t["sequence"] or 0)):
        if t["dealsource"] == 5:
            if t["matchgroupid"] in seen:
                continue
            seen.add(t["matchgroupid"])
        fills.append(t)
    return fills


def _sweep(st: dict, trades: list[dict], quotes: Quotes, has_cr: bool, qualifying: list[int]) -> dict:
    fills = _sweep_fills(trades)
    s = sign(st["side"])
    leaves, tmq = st["final_leaves"], st["final_tmq"]
    group = 1 if tmq > 0 and leaves == 0 else 2 if tmq > 0 and leaves > 0 else 3 if tmq == 0 else None
    Q = sum(f["quantity"] for f in fills)
    M = st["arrival_mid"]
    vwap = sum(f["tradeprice"] * f["quantity"] for f in fills) / Q if Q else None
    num = den = 0.0
    for f in fills:
        snb, sno = f["nationalbidpricesnapshot"], f["nationalofferpricesnapshot"]
        mid_i = (snb + sno) / 2 if valid(snb, sno) else quotes.mid_at(st["security_code"], st["date"], f["tradetime"])
        if mid_i is not None:
            num += f["quantity"] * s * (f["tradeprice"] - mid_i) / mid_i
            den += f["quantity"]
    t_first = min((f["tradetime"] for f in fills), default=None)
    t_last = max((f["tradetime"] for f in fills), default=None)
    lim = st["arrival_price"]
    vol = lambda dss: sum(f["quantity"] for f in fills if f["dealsource"] in dss)  # noqa: E731
    return {
        **{k: st[k] for k in ("security_code", "date", "order_id", "side", "participantid", "arrival_ts",
                              "post_entry_ts", "post_entry_seq", "final_ts", "arrival_price", "arrival_quantity",
                              "post_entry_leaves", "final_leaves", "final_tmq", "arrival_mid", "arrival_spread",
                              "arrival_hour", "size_bucket")},
        "group_id": group,
        "g3_changereason": st["final_changereason"] if group == 3 else None,
        "qualifying": (group == 1 and len(fills) >= 1
                       and all(f["dealsource"] in qualifying for f in fills)
                       and (not has_cr or st["has_new_event"])),
        "filled_quantity": Q, "fills": len(fills),
        "fill_ratio": tmq / (tmq + leaves) if tmq + leaves else None,
        "vwap": vwap,
        "arrival_cost_bps": 1e4 * s * (vwap - M) / M if vwap is not None and M is not None else None,
        "vw_cost_bps": 1e4 * num / den if den else None,
        "effective_spread": 2 * abs(vwap - M) if vwap is not None and M is not None else None,
        "effective_spread_pct": (100 * 2 * abs(vwap - M) / st["arrival_spread"]
                                 if vwap is not None and M is not None and st["arrival_spread"] else None),
        "price_improvement_bps": 1e4 * s * (lim - vwap) / lim if vwap is not None and lim and lim > 0 else None,
        "first_fill_ts": t_first, "last_fill_ts": t_last,
        "time_to_first_fill_s": (t_first - st["arrival_ts"]) / 1e9 if fills else None,
        "first_to_last_fill_s": (t_last - t_first) / 1e9 if fills else None,
        "vwte_s": (sum(f["quantity"] * max(0, f["tradetime"] - st["arrival_ts"]) / 1e9 for f in fills) / Q
                   if Q else None),
        "cp_volume": vol({46, 47, 48}), "lit_volume": vol({1, 44}), "auction_volume": vol({20, 45}),
        "trade_report_volume": vol({5}),
        "time_in_book_s": (st["final_ts"] - st["arrival_ts"]) / 1e9,
        "limit_distance_bps": 1e4 * s * (lim - M) / M if M is not None and lim and lim > 0 else None,
    }


def _scenarios(sw: dict, scenarios: list[dict]) -> list[dict]:
    rows = []
    s, Q, M, vwap = sign(sw["side"]), sw["filled_quantity"], sw["arrival_mid"], sw["vwap"]
    for sc in scenarios:
        d = sc["dark_share"]
        real = Q * vwap if vwap is not None else None
        if sc["rest"] == "real":
            p_rest = vwap
        else:
            p_rest = M * (1 + s * sc["impact_bps"] / 1e4) if M is not None else None
        scen = d * Q * M + (1 - d) * Q * p_rest if M is not None and p_rest is not None else None
        savings = s * (real - scen) if real is not None and scen is not None else None
        rows.append({"security_code": sw["security_code"], "date": sw["date"], "order_id": sw["order_id"],
                     "scenario": sc["name"], "quantity": Q, "real_cost": real, "scenario_cost": scen,
                     "savings": savings,
                     "savings_bps": 1e4 * savings / (Q * M) if savings is not None and Q and M else None})
    return rows


def _simulate(sec, date, states: list[dict], qualifying: list[dict]) -> tuple[list[dict], list[dict]]:
    """§5.6 literally: every sweep scans all contras (quadratic, obviously correct)."""
    ledger = {st["order_id"]: max(0, st["arrival_quantity"] or 0) for st in states}
    contras = sorted(states, key=lambda st: (st["arrival_ts"], st["arrival_seq"], st["order_id"]))
    matches, rows = [], []
    order = sorted(qualifying, key=lambda sw: (sw["post_entry_ts"], sw["post_entry_seq"], sw["order_id"]))
    for no, sw in enumerate(order, 1):
        offered = sw["post_entry_leaves"] or 0
        ws, we = sw["arrival_ts"], sw["last_fill_ts"]
        in_window = [c for c in contras if c["side"] != sw["side"] and c["side"] in (1, 2) and sw["side"] in (1, 2)
                     and c["order_id"] != sw["order_id"] and ws <= c["arrival_ts"] <= we]
        left, mine = offered, []
        for c in in_window:
            if left <= 0:
                break
            if ledger[c["order_id"]] <= 0:
                continue
            take = min(left, ledger[c["order_id"]])
            ledger[c["order_id"]] -= take
            left -= take
            mine.append({"security_code": sec, "date": date, "sweep_order_id": sw["order_id"],
                         "contra_order_id": c["order_id"], "match_no": len(mine) + 1,
                         "match_ts": c["arrival_ts"], "quantity": take, "price": c["nbbo_arrival_mid"]})
        matches.extend(mine)
        matched = sum(m["quantity"] for m in mine)
        priced = [m for m in mine if m["price"] is not None]
        pq = sum(m["quantity"] for m in priced)
        sim_vwap = sum(m["quantity"] * m["price"] for m in priced) / pq if pq else None
        if mine:
            reason = None
        elif offered <= 0:
            reason = "nothing_offered"
        elif not in_window:
            reason = "no_contra_in_window"
        else:
            reason = "contras_exhausted"
        s, M = sign(sw["side"]), sw["arrival_mid"]
        rows.append({
            "security_code": sec, "date": date, "order_id": sw["order_id"], "placement_no": no,
            "offered_quantity": offered, "matched_quantity": matched, "matches": len(mine),
            "unpriced_matches": len(mine) - len(priced), "sim_vwap": sim_vwap,
            "sim_fill_ratio": matched / offered if offered else None,
            "sim_time_to_first_fill_s": (min(m["match_ts"] for m in mine) - sw["arrival_ts"]) / 1e9 if mine else None,
            "sim_vwte_s": (sum(m["quantity"] * max(0, m["match_ts"] - sw["arrival_ts"]) / 1e9 for m in mine) / matched
                           if matched else None),
            "set_label": "A" if mine else "B", "reason": reason,
            "sim_arrival_cost_bps": 1e4 * s * (sim_vwap - M) / M if sim_vwap is not None and M is not None else None,
            "real_fill_ratio": sw["fill_ratio"], "real_vwap": sw["vwap"],
            "real_arrival_cost_bps": sw["arrival_cost_bps"],
        })
    return matches, rows


# ------------------------------------------------------------------ §5.10 markouts and liquidity

VENUES = {46: "centre_point", 47: "centre_point", 48: "centre_point", 1: "lit", 44: "lit",
          20: "auction", 45: "auction", 5: "trade_report"}


def venue_of(dealsource: int | None) -> str:
    return VENUES.get(dealsource, "other")


def _markouts(sweeps: list[dict], unit_trades: dict, matches: list[dict], quotes: Quotes,
              horizons: list[int]) -> list[dict]:
    """Every fill x horizon: real fills of executed sweeps (§5.4 trades), priced dark matches."""
    by_id = {sw["order_id"]: sw for sw in sweeps}
    fills = []
    for sw in sweeps:
        if sw["group_id"] not in (1, 2):
            continue
        for t in _sweep_fills(unit_trades.get((sw["security_code"], sw["date"], sw["order_id"]), [])):
            fills.append((sw, "real", venue_of(t["dealsource"]), t["tradetime"], float(t["tradeprice"]),
                          t["quantity"], t["matchgroupid"], None))       # (..., matchgroupid, contra)
    for m in matches:
        if m["price"] is not None:
            fills.append((by_id[m["sweep_order_id"]], "sim", "dark_sim", m["match_ts"], m["price"], m["quantity"],
                          None, m["contra_order_id"]))
    rows = []
    for sw, source, venue, t, p, q, mg, contra in fills:
        s = sign(sw["side"])
        for h in horizons:
            mid = quotes.mid_at(sw["security_code"], sw["date"], t + h * 10**9)
            rows.append({"security_code": sw["security_code"], "date": sw["date"], "order_id": sw["order_id"],
                         "source": source, "venue": venue, "fill_ts": t, "price": p, "quantity": q,
                         "horizon_s": h, "mid_after": mid,
                         "markout_bps": None if mid is None or not p else 1e4 * s * (mid - p) / p,
                         "group_id": sw["group_id"], "fill_ref": mg if source == "real" else contra})
    return rows


def _liquidity(sec: int, date: dt.date, trades: list[dict], quotes: Quotes, H: int) -> list[dict]:
    """Per venue class and 'all': trades once per matchgroupid (a trade report once per
    (orderid, matchgroupid)), signed by the aggressive row; plus the time-weighted quoted spread."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for t in trades:
        groups[(t["matchgroupid"], t["orderid"] if t["dealsource"] == 5 else None)].append(t)
    per_venue: dict[str, list[tuple]] = defaultdict(list)
    for rows in groups.values():
        r = sorted(rows, key=lambda t: (t.get("passiveaggressive") != 1, t["sequence"] is None, t["sequence"] or 0,
                                        t.get("row_num") is None, t.get("row_num") or 0))[0]
        d = sign(r["side"]) if r.get("passiveaggressive") == 1 else None
        m0 = quotes.mid_at(sec, date, r["tradetime"])
        mh = quotes.mid_at(sec, date, r["tradetime"] + H * 10**9)
        item = (r["tradeprice"], r["quantity"], d, m0, mh)
        per_venue[venue_of(r["dealsource"])].append(item)
        per_venue["all"].append(item)
    qs, qt = _quoted_spread(quotes.by_unit.get((sec, date), []))
    n_quotes = len({q["timestamp"] for q in quotes.by_unit.get((sec, date), [])})
    if not per_venue and not n_quotes:
        return []
    per_venue.setdefault("all", [])
    out = []
    for venue, items in per_venue.items():
        signed = [(p, q, d, m0, mh) for p, q, d, m0, mh in items if d is not None and m0 is not None and mh is not None]
        sv = sum(q for _, q, *_ in signed)
        def wavg(f, signed=signed, sv=sv):
            return sum(q * f(p, d, m0, mh) for p, q, d, m0, mh in signed) / sv if sv else None
        out.append({"security_code": sec, "date": date, "venue": venue, "trades": len(items),
                    "volume": sum(q for _, q, *_ in items), "value": sum(p * q for p, q, *_ in items),
                    "eff_spread_bps": wavg(lambda p, d, m0, mh: 2e4 * d * (p - m0) / m0),
                    "realized_spread_bps": wavg(lambda p, d, m0, mh: 2e4 * d * (p - mh) / m0),
                    "price_impact_bps": wavg(lambda p, d, m0, mh: 2e4 * d * (mh - m0) / m0),
                    "horizon_s": H, "quoted_spread_bps": qs, "signed_trades": len(signed), "signed_volume": sv,
                    "quoted_time_s": qt, "quotes": n_quotes})
    return out


def _quoted_spread(unit_quotes: list[dict]) -> tuple[float | None, float]:
    """Time-weighted spread (bps of the mid) of the quote in force, from the first to the last quote."""
    last: dict[int, dict] = {}
    for q in sorted(unit_quotes, key=lambda q: (q["timestamp"], NEG_INF if q.get("sequence") is None else q["sequence"])):
        last[q["timestamp"]] = q                       # ties on timestamp: the larger sequence
    ts = sorted(last)
    num = den = 0.0
    for a, b in zip(ts, ts[1:]):
        q = last[a]
        mid = (q["bidprice"] + q["offerprice"]) / 2
        num += (b - a) * 1e4 * (q["offerprice"] - q["bidprice"]) / mid
        den += b - a
    return (num / den if den else None), den / 1e9
