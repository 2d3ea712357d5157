"""Test data helpers: view-shaped rows -> DuckDB tables named orders/trades/nbbo, and a seeded
random unit generator. Column names and types are those of docs/ARCHITECTURE.md."""
from __future__ import annotations

import datetime as dt
import random
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa

SYD = ZoneInfo("Australia/Sydney")
MISSING = -9223372036854775808

_T = {"UBIGINT": pa.uint64(), "INTEGER": pa.int32(), "BIGINT": pa.int64(), "VARCHAR": pa.string(),
      "DATE": pa.date32()}

ORDERS_COLUMNS = [
    ("order_id", "UBIGINT"), ("exchange", "INTEGER"), ("timestamp", "BIGINT"), ("security_code", "INTEGER"),
    ("price", "BIGINT"), ("side", "INTEGER"), ("changereason", "INTEGER"), ("orderstatus", "INTEGER"),
    ("quantity", "BIGINT"), ("leavesquantity", "BIGINT"), ("ordertype", "INTEGER"),
    ("exchangeordertype", "INTEGER"), ("national_bid", "BIGINT"), ("national_offer", "BIGINT"),
    ("bid", "BIGINT"), ("offer", "BIGINT"), ("participantid", "BIGINT"), ("preferenceonly", "INTEGER"),
    ("midtick", "INTEGER"), ("singlefillminimumquantity", "BIGINT"), ("minimumquantity", "BIGINT"),
    ("sequence", "BIGINT"), ("crossingkey", "BIGINT"), ("totalmatchedquantity", "BIGINT"),
    ("shortsellquantity", "BIGINT"), ("triggercondition", "INTEGER"), ("timevaliditydecoded", "VARCHAR"),
    ("row_num", "BIGINT"), ("timevalidity", "INTEGER"), ("seq", "BIGINT"), ("date", "DATE"),
]
TRADES_COLUMNS = [
    ("EXCHANGE", "INTEGER"), ("sequence", "BIGINT"), ("tradedate", "DATE"), ("tradetime", "BIGINT"),
    ("securitycode", "INTEGER"), ("orderid", "UBIGINT"), ("dealsource", "INTEGER"),
    ("dealsourcedecoded", "VARCHAR"), ("exchangeinfo", "VARCHAR"), ("matchgroupid", "UBIGINT"),
    ("nationalbidpricesnapshot", "BIGINT"), ("nationalofferpricesnapshot", "BIGINT"),
    ("tradeprice", "BIGINT"), ("quantity", "BIGINT"), ("side", "INTEGER"), ("sidedecoded", "VARCHAR"),
    ("participantid", "BIGINT"), ("passiveaggressive", "INTEGER"), ("row_num", "BIGINT"),
    ("security_code", "INTEGER"), ("date", "DATE"),
]
NBBO_COLUMNS = [
    ("partition", "INTEGER"), ("sequence", "BIGINT"), ("tradedate", "BIGINT"), ("bidprice", "BIGINT"),
    ("creationtime", "BIGINT"), ("offerprice", "BIGINT"), ("orderbookid", "INTEGER"), ("timestamp", "BIGINT"),
    ("userid", "BIGINT"), ("runid", "BIGINT"), ("security_code", "INTEGER"), ("date", "DATE"),
]


def sydney_date(ts: int) -> dt.date:
    return dt.datetime.fromtimestamp(ts // 10**9, tz=dt.UTC).astimezone(SYD).date()


def ts_at(date: dt.date, hh: int, mm: int = 0, ss: float = 0.0) -> int:
    """ns since epoch of a Sydney wall-clock time."""
    base = dt.datetime(date.year, date.month, date.day, hh, mm, tzinfo=SYD)
    return int(base.timestamp()) * 10**9 + int(round(ss * 1e9))


def complete(rows: list[dict[str, Any]], table: str) -> list[dict[str, Any]]:
    """Fill the derived columns the views add (seq, date, security_code) like ingest does."""
    out = []
    for r in rows:
        r = dict(r)
        if table == "orders":
            r.setdefault("seq", r.get("sequence") if r.get("sequence") is not None else r.get("row_num"))
            r.setdefault("date", sydney_date(r["timestamp"]))
        elif table == "trades":
            r.setdefault("tradedate", sydney_date(r["tradetime"]))
            r.setdefault("securitycode", r.get("security_code"))
            r.setdefault("security_code", r["securitycode"])
            r.setdefault("date", r["tradedate"])
        else:
            r.setdefault("orderbookid", r.get("security_code"))
            r.setdefault("security_code", r["orderbookid"])
            r.setdefault("date", sydney_date(r["timestamp"]))
        out.append(r)
    return out


def arrow_of(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> pa.Table:
    return pa.table({name: pa.array([r.get(name) for r in rows], type=_T[typ]) for name, typ in columns})


def batch_connection() -> duckdb.DuckDBPyConnection:
    """An in-memory connection with the settings of the executors' batch connections (their join
    operators among them), so the oracle checks test the plans a run uses."""
    from duckpipe.engine.executor import tune_for_batches
    con = duckdb.connect()
    tune_for_batches(con)
    return con


def make_views(con: duckdb.DuckDBPyConnection, orders: list[dict], trades: list[dict], nbbo: list[dict]) -> None:
    """Create tables orders/trades/nbbo with exactly the view columns and types."""
    for name, rows, cols in (("orders", orders, ORDERS_COLUMNS), ("trades", trades, TRADES_COLUMNS),
                             ("nbbo", nbbo, NBBO_COLUMNS)):
        tbl = arrow_of(complete(rows, name), cols)
        con.register("_src", tbl)
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _src")
        con.unregister("_src")


# ------------------------------------------------------------------ random units

BASE_ID = 7_904_000_000_000_000_000


def random_unit(rng: random.Random, security: int, date: dt.date, n_orders: int, *,
                with_changereason: bool = True, id_offset: int = 0) -> tuple[list, list, list]:
    """A random but plausible unit: CP and lit orders with entry/trade/amend/cancel events,
    trades (some trade-report pairs, mixed dealsources), quotes (some invalid)."""
    orders: list[dict] = []
    trades: list[dict] = []
    nbbo: list[dict] = []
    t0 = ts_at(date, 10, 0)
    seq = [id_offset * 10**6]
    mg = [BASE_ID + 500_000_000 + id_offset * 10**6]

    def nseq() -> int:
        seq[0] += 1
        return seq[0]

    # quotes
    tq = t0 - 5 * 10**9
    for _ in range(n_orders * 2):
        tq += rng.randint(1, 4) * 10**8
        bid = rng.choice([3300, 3310, 3320, 3330])
        offer = bid + rng.choice([10, 20, 0, -10]) if rng.random() < 0.1 else bid + rng.choice([10, 20])
        if rng.random() < 0.05:
            bid = MISSING
        nbbo.append({"security_code": security, "timestamp": tq, "sequence": nseq(), "bidprice": bid,
                     "offerprice": offer})
        if rng.random() < 0.1:   # same timestamp, another quote
            nbbo.append({"security_code": security, "timestamp": tq, "sequence": nseq(),
                         "bidprice": bid if bid == MISSING else bid - 10, "offerprice": offer + 10})
    t = t0 - 8 * 10**9          # the first orders arrive before the first quote: no mid
    buy_share = rng.choice([0.3, 0.5, 0.7])
    for k in range(n_orders):
        oid = BASE_ID + id_offset * 10**6 + k * 7 + rng.randint(0, 3)
        t += rng.randint(0, 3) * 10**8
        side = 1 if rng.random() < buy_share else 2
        kind = rng.random()
        etype = (2048 if kind < 0.5 else rng.choice([64, 4096, 4098, 256])) if kind < 0.9 else 0
        if rng.random() < 0.05 and etype:
            etype_final = 0          # the final event decides: not CP
        else:
            etype_final = etype
        qty = rng.choice([50, 100, 300, 1000, 5000, 20000])
        price = rng.choice([0, 3300, 3310, 3320, 3330, 3340])
        part = rng.choice([1, 2, 3])
        nb, no = (3310, 3320) if rng.random() < 0.7 else (MISSING, 3320)
        def cr(c):
            return (c if with_changereason else None)
        ev: list[dict] = []
        ts = t
        leaves, tmq, q = qty, 0, qty
        ev.append(dict(timestamp=ts, orderstatus=2, changereason=cr(6), quantity=q, leavesquantity=leaves,
                       totalmatchedquantity=tmq))
        ev.append(dict(timestamp=ts, orderstatus=1, changereason=cr(6), quantity=q, leavesquantity=leaves,
                       totalmatchedquantity=tmq))
        fills = []
        if rng.random() < 0.4:   # fill on entry
            f = rng.randint(1, leaves)
            leaves -= f
            tmq += f
            fills.append((ts, f))
            ev.append(dict(timestamp=ts, orderstatus=1, changereason=cr(3), quantity=q, leavesquantity=leaves,
                           totalmatchedquantity=tmq))
        for _ in range(rng.randint(0, 3)):
            ts += rng.randint(0, 20) * 10**8
            r = rng.random()
            if leaves == 0:
                break
            if r < 0.5:
                f = rng.randint(1, leaves) if rng.random() < 0.3 else leaves
                leaves -= f
                tmq += f
                fills.append((ts, f))
                ev.append(dict(timestamp=ts, orderstatus=1 if leaves else 2, changereason=cr(3), quantity=q,
                               leavesquantity=leaves, totalmatchedquantity=tmq))
            elif r < 0.7:
                q = q + rng.choice([-10, 100])
                leaves = max(0, q - tmq)
                ev.append(dict(timestamp=ts, orderstatus=1, changereason=cr(5), quantity=q, leavesquantity=leaves,
                               totalmatchedquantity=tmq))
            else:
                ev.append(dict(timestamp=ts, orderstatus=4, changereason=cr(rng.choice([1, 9, 24])), quantity=q,
                               leavesquantity=leaves, totalmatchedquantity=tmq))
                break
        for i, e in enumerate(ev):
            e.update(order_id=oid, security_code=security, side=side, price=price, participantid=part,
                     exchangeordertype=etype_final if i == len(ev) - 1 else etype,
                     national_bid=nb if i == 0 else None, national_offer=no if i == 0 else None)
            e["row_num"] = nseq()
            e["sequence"] = None if rng.random() < 0.1 else e["row_num"]   # seq falls back to row_num
            if not with_changereason:
                e["changereason"] = None
            orders.append(e)
        ds_choices = [1] if rng.random() < 0.6 else [1, 1, 44, 46, 47, 20, 45, 5]
        for fts, fq in fills:
            ds = rng.choice(ds_choices)
            g = mg[0] = mg[0] + 1
            snb, sno = (3310, 3330) if rng.random() < 0.6 else (MISSING, MISSING)
            tp = rng.choice([3310, 3315, 3320, 3330])
            base = dict(tradetime=fts + rng.randint(0, 5) * 1000, security_code=security, dealsource=ds,
                        matchgroupid=g, tradeprice=tp, quantity=fq, nationalbidpricesnapshot=snb,
                        nationalofferpricesnapshot=sno)
            other = BASE_ID + 900_000_000 + g % 1000
            # aggressor flags without drawing from rng (other tests' data stay the same): mostly one
            # aggressive row, sometimes the contra side, sometimes none (skipped by signed measures)
            pa = 0 if g % 7 == 0 else (1 if g % 3 else 0)
            pa_other = 0 if g % 7 == 0 else 1 - pa
            trades.append({**base, "orderid": oid, "side": side, "sequence": nseq(), "passiveaggressive": pa})
            trades.append({**base, "orderid": oid if ds == 5 else other, "side": 3 - side, "sequence": nseq(),
                           "passiveaggressive": pa_other})
    return orders, trades, nbbo
