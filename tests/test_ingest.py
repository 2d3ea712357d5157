"""Ingest: counts, rejects with exact bytes and lines, re-ingest, replace, kill safety."""
from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from duckpipe import catalog
from duckpipe.errors import UsageError
from duckpipe.ingest.load import ingest, scan_lines
from duckpipe.settings import resolve

REPO = Path(__file__).resolve().parents[1]
DRR = (REPO.parent / "shared" / "data" / "asx-drr-2024-09-05").resolve()
needs_drr = pytest.mark.skipif(not DRR.exists(), reason=f"ASX DRR sample not found at {DRR}")

ORDERS_HEADER = (b"order_id,timestamp,security_code,price,side,orderstatus,quantity,leavesquantity,"
                 b"exchangeordertype,participantid,totalmatchedquantity,row_num")


def settings(ws: Path):
    return resolve(workspace=ws, memory_limit="1GB", threads=2, env={})


def run_ingest(ws: Path, sources=(), globs=None):
    st = settings(ws)
    with catalog.open_workspace(st, "ingest") as con:
        return ingest(con, st, [Path(s) for s in sources], globs)


def query(ws: Path, sql: str, params=None):
    with catalog.open_workspace(settings(ws), "test") as con:
        return con.execute(sql, params or {}).fetchall()


def order_row(i: int, sec: int = 110621, ts: int = 1725494536001032398) -> bytes:
    oid = 7904794000124046634 + i
    return f"{oid},{ts + i},{sec},3340,1,1,100,100,64,54,0,{i}".encode()


# ---------------------------------------------------------------- the DRR sample

@pytest.fixture(scope="module")
def drr_ws(tmp_path_factory):
    if not DRR.exists():
        pytest.skip(f"ASX DRR sample not found at {DRR}")
    ws = tmp_path_factory.mktemp("drr")
    summary = run_ingest(ws, [DRR])
    return ws, summary


@needs_drr
def test_drr_counts_and_skips(drr_ws):
    ws, s = drr_ws
    by_table = {f.table: f for f in s.files}
    assert by_table["orders"].rows_loaded == 28452
    assert by_table["trades"].rows_loaded == 8302
    assert by_table["nbbo"].rows_loaded == 1833
    assert s.rows_rejected == 0 and not s.failed
    assert str(DRR / "final_states") in s.skipped_paths
    assert query(ws, "SELECT count(*) FROM orders")[0][0] == 28452
    assert query(ws, "SELECT count(*) FROM trades")[0][0] == 8302
    assert query(ws, "SELECT count(*) FROM nbbo")[0][0] == 1833
    assert query(ws, "SELECT count(*) FROM ingest_rejects")[0][0] == 0
    assert query(ws, "SELECT count(*) FROM session")[0][0] == 9
    m = query(ws, "SELECT sum(rows_read), sum(rows_loaded + rows_rejected) FROM ingest_manifest")[0]
    assert m[0] == m[1]


@needs_drr
def test_drr_order_ids_exact(drr_ws):
    ws, _ = drr_ws
    with open(DRR / "orders" / "drr_20240905_orders.csv", newline="") as fh:
        text_ids = sorted({int(r["order_id"]) for r in csv.DictReader(fh)})
    assert max(text_ids) > 2**53
    ids = [r[0] for r in query(ws, "SELECT DISTINCT order_id FROM orders ORDER BY 1")]
    assert ids == text_ids
    assert query(ws, "SELECT typeof(order_id) FROM orders LIMIT 1")[0][0] == "UBIGINT"
    with open(DRR / "trades" / "drr_20240905_trades.csv", newline="") as fh:
        trade_ids = sorted({int(r["orderid"]) for r in csv.DictReader(fh)})
    assert [r[0] for r in query(ws, "SELECT DISTINCT orderid FROM trades ORDER BY 1")] == trade_ids


@needs_drr
def test_drr_reload_rows_land_on_previous_date(drr_ws):
    ws, _ = drr_ws
    rows = query(ws, "SELECT date, count(*), min(timestamp), max(timestamp) FROM orders GROUP BY 1 ORDER BY 1")
    assert [str(r[0]) for r in rows] == ["2024-09-04", "2024-09-05"]
    # 2024-09-04 rows are the evening reload (Sydney ~21:22 = 11:22 UTC)
    evening = query(ws, "SELECT min(hour(make_timestamptz(timestamp // 1000) AT TIME ZONE 'Australia/Sydney'))"
                        " FROM orders WHERE date = DATE '2024-09-04'")[0][0]
    assert evening >= 19
    parts = query(ws, "SELECT table_name, date, rows FROM store_partitions ORDER BY 1, 2")
    assert ("orders", rows[0][0], rows[0][1]) in parts


# ---------------------------------------------------------------- bad rows

BAD_LINES = [
    ORDERS_HEADER,              # 1
    order_row(1),               # 2 ok
    b"",                        # 3 blank
    order_row(2).replace(b",3340,", b",33x0,"),    # 4 non-numeric price
    order_row(3).rsplit(b",", 2)[0],               # 5 too few columns
    order_row(4) + b",99",                          # 6 too many columns
    order_row(5).replace(b",3340,", b",3\xff\xfe0,"),  # 7 invalid UTF-8 in a number
    b"",                        # 8 blank
    b"",                        # 9 blank
    ORDERS_HEADER,              # 10 repeated header
    order_row(6),               # 11 ok
    b"",                        # 12 blank (a bare CR in an LF file makes DuckDB fail the file)
    order_row(7),               # 13 ok
    order_row(8)[:-4],          # 14 truncated last line, no newline
]
EXPECTED = {4: ("price", "cast"), 5: ("totalmatchedquantity", "missing"), 6: (None, "too many"),
            7: ("price", ""), 10: (None, "repeated header"), 14: (None, "")}


def write_bad(dir_: Path, name: str = "bad.csv", gz: bool = False) -> Path:
    (dir_ / "orders").mkdir(parents=True, exist_ok=True)
    data = b"\n".join(BAD_LINES)
    path = dir_ / "orders" / (name + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_bad_rows_rejected_with_line_column_reason_and_bytes(tmp_path, gz):
    src = tmp_path / "src"
    path = write_bad(src, gz=gz)
    s = run_ingest(tmp_path / "ws", [src])
    (f,) = s.files
    assert f.status == "loaded"
    assert f.rows_loaded == 3 and f.rows_rejected == 6 and f.blank_lines == 4
    assert f.rows_read == f.rows_loaded + f.rows_rejected == 9
    rej = query(tmp_path / "ws", "SELECT line, column_name, reason, raw_line FROM ingest_rejects"
                                 " WHERE path = $p ORDER BY line", {"p": str(path)})
    assert [r[0] for r in rej] == sorted(EXPECTED)
    for line, col, reason, raw in rej:
        want_col, want_reason = EXPECTED[line]
        if want_col:
            assert col == want_col, (line, col)
        assert want_reason in reason.lower() and reason
        assert raw == BAD_LINES[line - 1], line          # exact bytes, also invalid UTF-8
    m = query(tmp_path / "ws", "SELECT rows_read, rows_loaded, rows_rejected, blank_lines, lines, status"
                               " FROM ingest_manifest")[0]
    assert m == (9, 3, 6, 4, 14, "loaded")
    assert query(tmp_path / "ws", "SELECT count(*) FROM orders")[0][0] == 3


def test_scan_lines_chunk_boundaries(tmp_path, monkeypatch):
    from duckpipe.ingest import linesplit
    monkeypatch.setattr(linesplit, "CHUNK", 7)
    data = b"h1,h2\n\nabc,def\r\n\r\n\nlong,line,here\nx"
    p = tmp_path / "f.csv"
    p.write_bytes(data)
    scan = scan_lines(p, False, [3, 6, 7])
    assert scan.lines == 7 and scan.blank == 3
    assert scan.raw == {3: b"abc,def", 6: b"long,line,here", 7: b"x"}


def test_missing_required_column_fails_file_only(tmp_path):
    src = tmp_path / "src"
    write_bad(src, "good.csv")
    (src / "orders" / "nocol.csv").write_bytes(ORDERS_HEADER.replace(b"price,", b"") + b"\n1,2\n")
    s = run_ingest(tmp_path / "ws", [src])
    failed = {Path(f.path).name: f for f in s.failed}
    assert list(failed) == ["nocol.csv"]
    assert "nocol.csv" in failed["nocol.csv"].error and "price" in failed["nocol.csv"].error
    assert query(tmp_path / "ws", "SELECT status FROM ingest_manifest WHERE path LIKE '%nocol.csv'") == [("failed",)]
    assert query(tmp_path / "ws", "SELECT count(*) FROM orders")[0][0] == 3


def test_a_gzip_file_named_csv_fails_saying_so(tmp_path):
    src = tmp_path / "src"
    write_bad(src, "good.csv")
    (src / "orders" / "zipped.csv").write_bytes(gzip.compress(ORDERS_HEADER + b"\n" + order_row(7) + b"\n"))
    s = run_ingest(tmp_path / "ws", [src])
    (bad,) = s.failed
    assert bad.error.endswith("zipped.csv: gzip-compressed, but its name does not end in .gz;"
                              " rename it to zipped.csv.gz"), bad.error
    assert query(tmp_path / "ws", "SELECT count(*) FROM orders")[0][0] == 3     # the good file loaded


def test_a_repeated_table_glob_loads_every_match(tmp_path):
    from conftest import duckpipe_inproc
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.csv").write_bytes(ORDERS_HEADER + b"\n" + order_row(1) + b"\n")
    (src / "b.csv").write_bytes(ORDERS_HEADER + b"\n" + order_row(2) + b"\n" + order_row(3) + b"\n")
    res = duckpipe_inproc("ingest", "--orders", str(src / "a.csv"), "--orders", str(src / "b*.csv"),
                          "--workspace", str(tmp_path / "ws"))
    assert res.returncode == 0, res.stderr                       # the last --orders alone used to win
    assert query(tmp_path / "ws", "SELECT count(*) FROM orders")[0][0] == 3


def test_a_source_without_input_files_is_a_usage_error_with_a_hint(tmp_path):
    from conftest import duckpipe_inproc
    src = tmp_path / "src"
    write_bad(src, "good.csv")
    table_folder = duckpipe_inproc("ingest", str(src / "orders"), "--workspace", str(tmp_path / "ws"))
    assert table_folder.returncode == 2
    assert f"is itself a table folder; give the folder that holds it: duckpipe ingest {src}" in table_folder.stderr
    (tmp_path / "empty" / "misc").mkdir(parents=True)
    nothing = duckpipe_inproc("ingest", str(tmp_path / "empty"), "--workspace", str(tmp_path / "ws"))
    assert nothing.returncode == 2 and "no input files in source folder" in nothing.stderr
    assert not (tmp_path / "ws").exists()
    # beside a source with files (a month not delivered yet): listed as skipped, the others load
    both = duckpipe_inproc("ingest", str(src), str(tmp_path / "empty"), "--workspace", str(tmp_path / "ws"))
    assert both.returncode == 0, both.stderr
    assert f"skipped (not an input file of the asx layout): {tmp_path / 'empty'}" in both.stdout
    assert query(tmp_path / "ws", "SELECT count(*) FROM orders")[0][0] == 3


def test_table_folders_in_any_letter_case(tmp_path):
    src = tmp_path / "src"
    write_bad(src, "good.csv")
    (src / "orders").rename(src / "Orders")
    s = run_ingest(tmp_path / "ws", [src])
    assert [(f.table, f.status) for f in s.files] == [("orders", "loaded")]
    assert query(tmp_path / "ws", "SELECT count(*) FROM orders")[0][0] == 3


def test_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        run_ingest(tmp_path / "ws", [tmp_path / "nope"])
    with pytest.raises(UsageError, match="matches no file"):
        run_ingest(tmp_path / "ws", [], {"orders": str(tmp_path / "*.csv")})


def test_quote_in_path_and_glob(tmp_path):
    src = tmp_path / "it's; DROP TABLE x; --"
    (src / "o").mkdir(parents=True)
    p = src / "o" / "o'rders.csv"
    p.write_bytes(ORDERS_HEADER + b"\n" + order_row(1) + b"\n")
    s = run_ingest(tmp_path / "ws", [], {"orders": str(src / "o" / "*.csv")})
    assert s.files[0].status == "loaded" and s.files[0].rows_loaded == 1
    assert query(tmp_path / "ws", "SELECT path FROM ingest_manifest") == [(str(p),)]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_an_input_below_a_name_value_folder_keeps_its_own_columns(tmp_path, fmt):
    """Inputs kept in a data lake's layout (`.../security_code=999/...`): DuckDB's readers would take
    the folder for a column and override the file's own; ingest reads the file's values only."""
    src = tmp_path / "lake" / "security_code=999" / "date=2024-01-01" / "orders"
    src.mkdir(parents=True)
    csv_bytes = ORDERS_HEADER + b"\n" + order_row(1) + b"\n" + order_row(2, sec=85603) + b"\n"
    if fmt == "csv":
        (src / "orders.csv").write_bytes(csv_bytes)
    else:
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq
        pq.write_table(pacsv.read_csv(io.BytesIO(csv_bytes)), src / "orders.parquet")
    s = run_ingest(tmp_path / "ws", [], {"orders": str(src / f"*.{fmt}")})
    assert s.files[0].status == "loaded" and s.files[0].rows_loaded == 2
    assert query(tmp_path / "ws", "SELECT security_code, date FROM orders ORDER BY ALL") == [
        (85603, dt.date(2024, 9, 5)), (110621, dt.date(2024, 9, 5))]


def test_header_case_and_spaces_optional_columns_null(tmp_path):
    src = tmp_path / "src"
    (src / "orders").mkdir(parents=True)
    hdr = b" ORDER_ID , Timestamp,security_code,price,side,orderstatus,quantity,leavesquantity," \
          b"exchangeordertype,participantid,totalmatchedquantity,Sequence,junk"
    (src / "orders" / "o.csv").write_bytes(hdr + b"\n" + order_row(1).rsplit(b",", 1)[0] + b",77,zz\n")
    run_ingest(tmp_path / "ws", [src])
    row = query(tmp_path / "ws", "SELECT order_id, seq, sequence, row_num, changereason FROM orders")
    assert row == [(7904794000124046635, 77, 77, None, None)]


# ---------------------------------------------------------------- synth faults

def test_synth_faults(tmp_path):
    from duckpipe.synth import synth
    raw = tmp_path / "raw"
    synth(raw, securities=2, days=2, orders_per_unit=40, seed=3, faults=True)
    faults = json.loads((raw / "faults.json").read_text())
    expected = json.loads((raw / "expected.json").read_text())
    s = run_ingest(tmp_path / "ws", [raw])
    assert not s.failed
    assert str(raw / "faults.json") in s.skipped_paths
    rej = {(r[0], r[1]): r[2] for r in query(tmp_path / "ws",
           "SELECT path, line, column_name FROM ingest_rejects")}
    for flt in faults:
        key = (str(raw / flt["file"]), flt["line"])
        if flt["kind"] == "blank_line":
            assert key not in rej
            continue
        assert key in rej, flt
        if flt["kind"] in ("non_numeric", "invalid_utf8") and flt["column"]:
            assert rej[key].lower() == flt["column"].lower(), flt
    for rel, exp in expected.items():
        m = query(tmp_path / "ws", "SELECT rows_read, rows_loaded, rows_rejected, blank_lines, lines"
                                   " FROM ingest_manifest WHERE path = $p", {"p": str(raw / rel)})[0]
        assert m == (exp["rows_read"], exp["good_rows"], exp["bad_rows"], exp["blank_lines"], exp["lines"]), rel


# ---------------------------------------------------------------- re-ingest, replace, kill

def write_orders(path: Path, rows: list[bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(ORDERS_HEADER + b"\n" + b"\n".join(rows) + b"\n")


def day_rows(n: int, secs=(1, 2, 3), day_ts: int = 1725494536001032398, offset: int = 0) -> list[bytes]:
    return [order_row(offset + i, sec=secs[i % len(secs)], ts=day_ts) for i in range(n)]


def partitions(ws: Path) -> dict:
    return {(r[0], r[1], str(r[2])): (r[3], r[4]) for r in query(ws, "SELECT * FROM store_partitions")}


def test_reingest_unchanged_and_replace(tmp_path):
    src, ws = tmp_path / "src", tmp_path / "ws"
    d1, d2 = 1725494536001032398, 1725494536001032398 + 86_400 * 10**9
    write_orders(src / "orders" / "a.csv", day_rows(30, day_ts=d1) + day_rows(30, day_ts=d2, offset=100))
    write_orders(src / "orders" / "b.csv", day_rows(20, secs=(4,), day_ts=d1, offset=200))
    run_ingest(ws, [src])
    before = partitions(ws)
    files_before = sorted(p for p in (ws / "store").rglob("*.parquet"))
    s = run_ingest(ws, [src])
    assert [f.status for f in s.files] == ["skipped_unchanged"] * 2
    assert sorted((ws / "store").rglob("*.parquet")) == files_before
    assert partitions(ws) == before
    # change one row of security 2 on day 1 in a.csv
    rows = day_rows(30, day_ts=d1) + day_rows(30, day_ts=d2, offset=100)
    rows[1] = rows[1].replace(b",3340,", b",3350,")
    write_orders(src / "orders" / "a.csv", rows)
    s = run_ingest(ws, [src])
    assert [f.status for f in s.files] == ["loaded", "skipped_unchanged"]
    after = partitions(ws)
    changed = {k for k in before if before[k] != after.get(k)}
    assert changed == {("orders", 2, "2024-09-05")}
    assert set(after) == set(before)
    assert query(ws, "SELECT count(*) FROM orders")[0][0] == 80
    assert query(ws, "SELECT count(*) FROM orders WHERE price = 3350")[0][0] == 1
    listed = {r[0] for r in query(ws, "SELECT path FROM ingest_files")}
    assert {p.relative_to(ws).as_posix() for p in (ws / "store").rglob("*.parquet")} == listed   # old files removed


KILL_SCRIPT = """
import sys, time
from pathlib import Path
from duckpipe import catalog
from duckpipe.ingest.load import ingest
from duckpipe.settings import resolve
st = resolve(workspace=sys.argv[1], memory_limit="1GB", threads=2, env={})
with catalog.open_workspace(st, "ingest") as con:
    ingest(con, st, [Path(sys.argv[2])], progress=lambda *a: time.sleep(0.5))   # slow: a kill lands mid-way
"""


def snapshot(ws: Path):
    return (partitions(ws),
            query(ws, "SELECT path, size, fingerprint, rows_read, rows_loaded, rows_rejected, status"
                      " FROM ingest_manifest ORDER BY path"),
            query(ws, "SELECT count(*), sum(order_id::HUGEINT), sum(price) FROM orders"))


def test_kill_and_resume_matches_uninterrupted(tmp_path):
    src = tmp_path / "src"
    for k in range(6):
        write_orders(src / "orders" / f"f{k}.csv", day_rows(40, offset=1000 * k))
    ref = tmp_path / "ref"
    run_ingest(ref, [src])
    ws = tmp_path / "ws"
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(ws), str(src)])
    deadline = time.time() + 20
    while time.time() < deadline and len(list((ws / "store" / "orders").rglob("*.parquet"))) < 2:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n_done = len(list((ws / "store" / "orders").rglob("*.parquet")))
    assert 0 < n_done < 6, "kill did not land part-way"
    s = run_ingest(ws, [src])
    statuses = [f.status for f in s.files]
    assert "skipped_unchanged" in statuses and "loaded" in statuses
    assert snapshot(ws) == snapshot(ref)
    listed = {r[0] for r in query(ws, "SELECT path FROM ingest_files")}
    assert {p.relative_to(ws).as_posix() for p in (ws / "store").rglob("*.parquet")} == listed


def test_reference_tables_trimmed_and_optional(tmp_path):
    src = tmp_path / "src"
    (src / "session").mkdir(parents=True)
    (src / "session" / "s.csv").write_text(" Partition, Name ,Id\n 4, OPEN,12\n 4, CLOSE,13\n")
    write_orders(src / "orders" / "o.csv", day_rows(3))
    s = run_ingest(tmp_path / "ws", [src])
    assert not s.failed
    assert query(tmp_path / "ws", 'SELECT "Partition", "Name", "Id" FROM session ORDER BY "Id"') == \
        [(4, "OPEN", 12), (4, "CLOSE", 13)]
    assert query(tmp_path / "ws", "SELECT count(*) FROM participants")[0][0] == 0
    assert query(tmp_path / "ws", "SELECT count(*) FROM trades")[0][0] == 0


def test_fast_sydney_date_matches_icu():
    """The ICU-free business date equals DuckDB's time-zone conversion, around every DST change."""
    import duckdb

    from duckpipe.profiles.asx import SYDNEY_DATE, SYDNEY_DATE_ICU
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("""CREATE TABLE t AS
        SELECT (1e9 * epoch(TIMESTAMPTZ '1989-12-25 00:00:00+00'))::BIGINT + i * 1800000000000 + d AS "timestamp"
        FROM range(1300000) r(i), (VALUES (-1), (0), (1)) v(d)
        UNION ALL SELECT x FROM (VALUES (0), (-1), (-9223372036854775807), (9223372036854775807)) v(x)""")
    n, diff = con.execute(f"SELECT count(*), count(*) FILTER (WHERE {SYDNEY_DATE} IS DISTINCT FROM"
                          f" {SYDNEY_DATE_ICU}) FROM t").fetchone()
    assert n > 3_000_000 and diff == 0


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 64])
def test_scan_lines_matches_naive_count(tmp_path, monkeypatch, chunk):
    """Random CR/LF/blank mixes: lines and blank lines as a per-line loop counts them, with
    CRLF, LF and a lone CR each ending a physical line (docs/TO_VERIFY.md)."""
    import random
    import re

    from duckpipe.ingest import linesplit
    monkeypatch.setattr(linesplit, "CHUNK", chunk)
    rng = random.Random(chunk)
    for k in range(40):
        data = bytes(rng.choice(b"a\n\n\r,") for _ in range(rng.randrange(0, 60)))
        p = tmp_path / f"f{k}.csv"
        p.write_bytes(data)
        lines = re.split(rb"\r\n|\r|\n", data)
        if lines and lines[-1] == b"":
            lines.pop()
        blank = sum(1 for ln in lines if ln == b"")
        scan = scan_lines(p, False, list(range(1, len(lines) + 1)))
        assert (scan.lines, scan.blank) == (len(lines), blank), data
        assert scan.raw == {i + 1: ln for i, ln in enumerate(lines)}, data


def test_parquet_input_several_dates_sorted_with_reject(tmp_path):
    """A Parquet orders file spanning 3 dates: one sorted store file per date, one reject."""
    import duckdb
    src = tmp_path / "src" / "orders"
    src.mkdir(parents=True)
    duckdb.connect().execute(f"""COPY (SELECT (7904794000124046634 + i)::VARCHAR AS order_id,
        1725494536001032398 + (40 - i) * 3600000000000 AS timestamp, (i % 3)::VARCHAR AS security_code,
        CASE WHEN i = 5 THEN 'x' ELSE '3340' END AS price, 1 AS side, 1 AS orderstatus, 100 AS quantity,
        100 AS leavesquantity, 64 AS exchangeordertype, 54 AS participantid, 0 AS totalmatchedquantity,
        i AS row_num FROM range(40) t(i)) TO '{src / "o.parquet"}'""")
    ws = tmp_path / "ws"
    (f,) = run_ingest(ws, [tmp_path / "src"]).files
    assert (f.status, f.rows_read, f.rows_loaded, f.rows_rejected) == ("loaded", 40, 39, 1)
    assert query(ws, "SELECT line, column_name FROM ingest_rejects") == [(6, "price")]
    files = query(ws, "SELECT path, date, rows FROM ingest_files ORDER BY date")
    assert [r[2] for r in files] == [r[1] for r in query(
        ws, "SELECT date, count(*) FROM orders GROUP BY 1 ORDER BY 1")] and len(files) == 3
    for path, _, _ in files:
        keys = query(ws, "SELECT security_code, timestamp FROM read_parquet($p)", {"p": str(ws / path)})
        assert keys == sorted(keys)
