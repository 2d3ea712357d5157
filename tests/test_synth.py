"""Tests of the synthetic ASX generator: the analysis and ingest tests rely on these properties."""
from __future__ import annotations

import csv
import gzip
import io
import json
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from duckpipe.synth import NS, SENTINEL, business_days, sydney_ns, synth

ORDERS_HEADER = (
    "order_id,exchange,timestamp,security_code,price,side,changereason,orderstatus,quantity,leavesquantity,"
    "ordertype,exchangeordertype,national_bid,national_offer,bid,offer,participantid,preferenceonly,midtick,"
    "singlefillminimumquantity,minimumquantity,sequence,crossingkey,totalmatchedquantity,shortsellquantity,"
    "triggercondition,timevaliditydecoded,row_num,timevalidity"
)
TRADES_HEADER = (
    "EXCHANGE,sequence,tradedate,tradetime,securitycode,orderid,dealsource,dealsourcedecoded,exchangeinfo,"
    "matchgroupid,nationalbidpricesnapshot,nationalofferpricesnapshot,tradeprice,quantity,side,sidedecoded,"
    "participantid,passiveaggressive,row_num"
)
NBBO_HEADER = "partition,sequence,tradedate,bidprice,creationtime,offerprice,orderbookid,timestamp,userid,runid"


def _read(path: Path) -> list[dict[str, str]]:
    """Rows as strings: ids are compared as exact integers, never through floats."""
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return list(csv.DictReader(io.StringIO(raw.decode())))


def _local(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / NS, tz=UTC).astimezone(__import__("zoneinfo").ZoneInfo("Australia/Sydney"))


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("synth")
    s = synth(out, securities=2, days=3, orders_per_unit=400, seed=7)
    tables = {t: [] for t in ("orders", "trades", "nbbo")}
    for t in tables:
        for f in sorted((out / t).glob("*.csv")):
            tables[t].append((f, _read(f)))
    return s, tables


def _all(tables, t):
    return [r for _, rows in tables[t] for r in rows]


def _events_by_order(orders):
    ev = defaultdict(list)
    for r in orders:
        ev[r["order_id"]].append(r)
    for rows in ev.values():
        rows.sort(key=lambda r: (int(r["timestamp"]), int(r["sequence"])))
    return ev


def test_layout_headers_and_summary(data):
    s, tables = data
    out = s.out
    days = business_days(date(2024, 9, 2), 3)
    for t, header in (("orders", ORDERS_HEADER), ("trades", TRADES_HEADER), ("nbbo", NBBO_HEADER)):
        names = sorted(p.name for p in (out / t).iterdir())
        assert names == [f"synth_{d:%Y%m%d}_{t}.csv" for d in days]
        for f, _rows in tables[t]:
            assert f.read_text().split("\n", 1)[0] == header
        assert s.rows[t] == sum(len(rows) for _, rows in tables[t])
    assert (out / "session/session.csv").read_text().startswith(" Partition,")
    assert (out / "reference/ob.csv").read_text().splitlines()[1].startswith(" ASX,")
    assert s.rows["reference"] == s.rows["session"] == 2
    assert all(p.exists() for p in s.files)
    assert s.bytes_written == sum(p.stat().st_size for p in s.files)
    assert s.faults == [] and json.loads((out / "faults.json").read_text()) == []


def test_determinism_and_gzip(tmp_path: Path):
    kw = dict(securities=2, days=2, orders_per_unit=150, seed=3, faults=True)
    a, b = synth(tmp_path / "a", **kw), synth(tmp_path / "b", **kw)
    rel = sorted(str(p.relative_to(a.out)) for p in a.files)
    assert rel == sorted(str(p.relative_to(b.out)) for p in b.files)
    for r in rel:
        assert (a.out / r).read_bytes() == (b.out / r).read_bytes(), r
    c = synth(tmp_path / "c", **{**kw, "seed": 4})
    assert (c.out / "orders/synth_20240902_orders.csv").read_bytes() != (a.out / "orders/synth_20240902_orders.csv").read_bytes()
    g = synth(tmp_path / "g", **kw, gzip=True)
    g2 = synth(tmp_path / "g2", **kw, gzip=True)
    for p in g.files:
        r = p.relative_to(g.out)
        if p.name.endswith(".csv.gz"):
            assert gzip.decompress(p.read_bytes()) == (a.out / str(r)[:-3]).read_bytes()
            assert p.read_bytes() == (g2.out / r).read_bytes()
    assert [f["line"] for f in g.faults] == [f["line"] for f in a.faults]


def test_order_ids_are_exact_19_digit_integers(data):
    _, tables = data
    orders, trades = _all(tables, "orders"), _all(tables, "trades")
    ids = {r["order_id"] for r in orders} | {r["orderid"] for r in trades} | {r["matchgroupid"] for r in trades}
    assert all(len(i) == 19 and i.isdigit() and int(i) > 2**53 for i in ids)
    assert len({float(i) for i in ids}) < len(ids)  # why they must never pass through a double
    owner = {}
    for r in orders:  # one id = one order: same security, side, type wherever it appears
        key = (r["security_code"], r["side"], r["exchangeordertype"], r["price"])
        assert owner.setdefault(r["order_id"], key) == key


def test_sequences_row_numbers_and_hours(data):
    _, tables = data
    for t in ("orders", "trades", "nbbo"):
        for f, rows in tables[t]:
            seq = [int(r["sequence"]) for r in rows]
            assert all(b > a for a, b in zip(seq, seq[1:])), f
            numbered = seq if t == "nbbo" else [int(r["row_num"]) for r in rows]
            assert numbered == list(range(1, len(rows) + 1))
    for f, rows in tables["orders"]:
        day = datetime.strptime(f.name.split("_")[1], "%Y%m%d").date()
        for r in rows:
            t = _local(int(r["timestamp"]))
            if r["changereason"] == "30":  # reloaded the previous Sydney evening
                assert t.date() == date.fromordinal(day.toordinal() - 1) and (t.hour, t.minute) in ((21, 22), (21, 23))
            elif r["changereason"] == "24":
                assert t.date() == day and t.hour == 18
            else:
                assert t.date() == day and 10 <= t.hour < 16, r


def test_lifecycles(data):
    _, tables = data
    orders = _all(tables, "orders")
    assert {"1", "3", "5", "6", "9", "24", "30"} <= {r["changereason"] for r in orders}
    types = {int(r["exchangeordertype"]) for r in orders}
    assert {0, 64, 256, 2048, 4096, 4098} <= types
    ev = _events_by_order(orders)
    groups, amended, fak, entry_full, entry_partial = defaultdict(int), 0, 0, 0, 0
    for _oid, rows in ev.items():
        first = rows[0]
        assert first["changereason"] in ("6", "30") and first["orderstatus"] == "2"
        assert rows[1]["changereason"] == first["changereason"] and rows[1]["orderstatus"] == "1"
        assert rows[1]["timestamp"] == first["timestamp"]  # incoming then on book, same timestamp
        tmq = [int(r["totalmatchedquantity"]) for r in rows]
        assert tmq == sorted(tmq)
        for r in rows:
            assert int(r["leavesquantity"]) == int(r["quantity"]) - int(r["totalmatchedquantity"]) >= 0
        amended += len({r["quantity"] for r in rows}) > 1
        post = [r for r in rows if r["timestamp"] == first["timestamp"]][-1]
        if int(first["exchangeordertype"]) & 2048 and first["changereason"] == "6":
            entry_full += post["leavesquantity"] == "0"
            entry_partial += 0 < int(post["leavesquantity"]) < int(post["quantity"])
            fak += post["changereason"] == "9"
            last = rows[-1]
            g = 1 if last["leavesquantity"] == "0" and tmq[-1] > 0 else 2 if tmq[-1] > 0 else 3
            groups[g] += 1
    n = sum(groups.values())
    assert 0.5 < groups[1] / n < 0.75 and 0.08 < groups[2] / n < 0.25 and 0.15 < groups[3] / n < 0.35
    assert amended > 10 and fak > 10 and entry_full > 10 and entry_partial > 10


def test_orders_agree_with_trades(data):
    _, tables = data
    orders, trades = _all(tables, "orders"), _all(tables, "trades")
    by_mg = defaultdict(list)
    for r in trades:
        by_mg[r["matchgroupid"]].append(r)
    for rows in by_mg.values():
        assert sorted(r["side"] for r in rows) == ["1", "2"]
        assert len({(r["tradetime"], r["quantity"], r["tradeprice"], r["dealsource"]) for r in rows}) == 1
        if rows[0]["dealsource"] == "5":
            assert rows[0]["orderid"] == rows[1]["orderid"] and rows[0]["exchangeinfo"] == "OFF Market"
    assert {"1", "5", "20", "44", "46", "47", "48"} <= {r["dealsource"] for r in trades}
    filled = defaultdict(int)  # (order, time) -> traded quantity
    for r in trades:
        filled[(r["orderid"], r["tradetime"])] += int(r["quantity"])
        mid2 = int(r["nationalbidpricesnapshot"]) + int(r["nationalofferpricesnapshot"])
        if r["dealsource"] in ("46", "47", "48"):
            assert 2 * int(r["tradeprice"]) == mid2
    ev = _events_by_order(orders)
    fill_times = set()
    for oid, rows in ev.items():
        prev = int(rows[0]["totalmatchedquantity"])
        for r in rows[1:]:
            delta = int(r["totalmatchedquantity"]) - prev
            prev = int(r["totalmatchedquantity"])
            assert (delta > 0) == (r["changereason"] == "3")
            if delta:
                assert filled[(oid, r["timestamp"])] == delta, (oid, r["timestamp"])
                fill_times.add((oid, r["timestamp"]))
    cp_trades = {k for k in filled if k[0] in ev}
    assert cp_trades == fill_times  # no trade of a file order without its fill event
    assert len({r["orderid"] for r in trades} - set(ev)) > 100  # lit/auction counterparties


def test_qualifying_sweeps_exist(data):
    _, tables = data
    ev = _events_by_order(_all(tables, "orders"))
    ds = defaultdict(set)
    for r in _all(tables, "trades"):
        ds[r["orderid"]].add(r["dealsource"])
    g1 = [o for o, rows in ev.items() if int(rows[0]["exchangeordertype"]) & 2048
          and rows[-1]["leavesquantity"] == "0" and int(rows[-1]["totalmatchedquantity"]) > 0]
    qualifying = [o for o in g1 if ds[o] == {"1"}]
    assert 0.4 * len(g1) < len(qualifying) < 0.9 * len(g1)


def test_nbbo_features(data):
    _, tables = data
    nbbo = _all(tables, "nbbo")
    bids, offers = [int(r["bidprice"]) for r in nbbo], [int(r["offerprice"]) for r in nbbo]
    assert SENTINEL in bids and SENTINEL in offers
    assert any(0 < b >= o > 0 for b, o in zip(bids, offers))
    keys = [(r["orderbookid"], r["timestamp"]) for r in nbbo]
    assert len(set(keys)) < len(keys)  # ties on timestamp exist
    for f, rows in tables["nbbo"]:
        day = datetime.strptime(f.name.split("_")[1], "%Y%m%d").date()
        assert {r["tradedate"] for r in rows} == {str(sydney_ns(day, 0))}
    orders = _all(tables, "orders")
    assert any(r["national_bid"] == "" for r in orders) and all(r["national_offer"] != str(SENTINEL) for r in orders)


def test_sydney_offset_across_dst(tmp_path: Path):
    assert sydney_ns(date(2024, 10, 4), 10) == int(datetime(2024, 10, 4, 0, tzinfo=UTC).timestamp()) * NS
    assert sydney_ns(date(2024, 10, 7), 10) == int(datetime(2024, 10, 6, 23, tzinfo=UTC).timestamp()) * NS
    s = synth(tmp_path, securities=1, days=3, orders_per_unit=1500, start_date=date(2024, 10, 3))
    assert business_days(date(2024, 10, 3), 3) == [date(2024, 10, 3), date(2024, 10, 4), date(2024, 10, 7)]
    first = {}
    for f in sorted((s.out / "nbbo").iterdir()):
        first[f.name] = min(int(r["timestamp"]) for r in _read(f))
    utc = lambda *a: int(datetime(*a, tzinfo=UTC).timestamp()) * NS  # noqa: E731
    assert first == {"synth_20241003_nbbo.csv": utc(2024, 10, 3, 0), "synth_20241004_nbbo.csv": utc(2024, 10, 4, 0),
                     "synth_20241007_nbbo.csv": utc(2024, 10, 6, 23)}
    reload = [int(r["timestamp"]) for r in _read(s.out / "orders/synth_20241007_orders.csv") if r["changereason"] == "30"]
    assert reload and all(utc(2024, 10, 6, 10, 22) <= t < utc(2024, 10, 6, 10, 24) for t in reload)  # 21:22 AEDT


@pytest.mark.parametrize("gz", [False, True])
def test_faults_point_at_bad_lines(tmp_path: Path, gz: bool):
    s = synth(tmp_path, securities=2, days=2, orders_per_unit=150, seed=5, faults=True, gzip=gz)
    assert json.loads((s.out / "faults.json").read_text()) == s.faults
    expected = json.loads((s.out / "expected.json").read_text())
    by_file = defaultdict(dict)
    for f in s.faults:
        by_file[f["file"]][f["line"]] = f
    assert len(by_file) == 3 and all(f["file"].startswith(("orders/", "trades/", "nbbo/")) for f in s.faults)
    for rel, faults in by_file.items():
        assert {f["kind"] for f in faults.values()} == {"non_numeric", "missing_column", "extra_column", "invalid_utf8",
                                                         "blank_line", "repeated_header", "truncated_last_line"}
        raw = (s.out / rel).read_bytes()
        raw = gzip.decompress(raw) if gz else raw
        assert not raw.endswith(b"\n")
        lines = raw.split(b"\n")
        header = lines[0]
        names = header.decode().split(",")
        good = 0
        for no, line in enumerate(lines[1:], start=2):
            f = faults.get(no)
            fields = line.split(b",")
            if f is None:
                assert len(fields) == len(names) and line != header
                line.decode()
                good += 1
                continue
            kind = f["kind"]
            if kind == "blank_line":
                assert line == b""
            elif kind == "repeated_header":
                assert line == header
            elif kind == "missing_column":
                assert len(fields) == len(names) - 1
            elif kind == "extra_column":
                assert len(fields) == len(names) + 1
            elif kind == "truncated_last_line":
                assert no == len(lines) and len(fields) < len(names)
            elif kind == "invalid_utf8":
                assert len(fields) == len(names)
                with pytest.raises(UnicodeDecodeError):
                    fields[names.index(f["column"])].decode()
            elif kind == "non_numeric":
                assert len(fields) == len(names) and not fields[names.index(f["column"])].isdigit()
        assert good == expected[rel]["good_rows"]
        assert expected[rel]["bad_rows"] == len(faults) - 1 and expected[rel]["blank_lines"] == 1
        assert expected[rel]["rows_read"] == good + expected[rel]["bad_rows"]
    clean = synth(tmp_path / "clean", securities=2, days=2, orders_per_unit=150, seed=5)
    assert clean.rows == s.rows  # faults are inserted, good rows are unchanged
