"""Strict integers in ingest: a value of an integer column that is not a plain integer literal
(sign, digits, surrounding spaces) is a reject with file, line, column, reason and exact bytes,
never a rounded number. DuckDB's own cast takes '12.31' as 12 and '7.9047940029E+18' as
7904794002900000000, in read_csv as in CAST; these tests failed before (rows stored rounded,
0 rejected). Parquet: float, text and DECIMAL columns mapped to integer columns likewise."""
from __future__ import annotations

import gzip
from pathlib import Path

import duckdb
import pytest
from conftest import REPO, duckpipe_cli

SAMPLE = REPO / "data" / "sample-asx" / "orders" / "synth_20240902_orders.csv.gz"
LINES = gzip.decompress(SAMPLE.read_bytes())[:-1].split(b"\n")
HEADER = LINES[0].split(b",")
DATA = len(LINES) - 1
COL = {n.decode(): i for i, n in enumerate(HEADER)}

# not plain integers: each was stored rounded or reinterpreted before
BAD = [b"12.31", b"3437.6", b"7.9047940029E+18", b"1e2", b"0x10", b"5_000", b"1.0", b"--3", b" 1 2"]
# plain integers (spaces around, a sign, leading zeros): loaded as the number
GOOD = [(b" 42 ", 42), (b"+42", 42), (b"0042", 42)]


def with_field(line: bytes, col: str, value: bytes) -> bytes:
    fields = line.split(b",")
    fields[COL[col]] = value
    return b",".join(fields)


def write(path: Path, lines: list[bytes], ends: list[bytes] | None = None) -> Path:
    ends = ends or [b"\n"] * len(lines)
    data = b"".join(ln + e for ln, e in zip(lines, ends))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def ingest(ws: Path, glob: str) -> None:
    res = duckpipe_cli("ingest", "--orders", glob, "--workspace", str(ws), "--memory-limit", "1GB",
                       "--threads", "2")
    assert res.returncode == 0 and "This is a bug" not in res.stderr, res.stderr


def catalog_rows(ws: Path, sql: str, params: dict | None = None) -> list[tuple]:
    with duckdb.connect(str(ws / "duckpipe.duckdb"), read_only=True) as con:
        return con.execute(sql, params or {}).fetchall()


def stored(ws: Path, sql: str) -> list[tuple]:
    files = [str(ws / r[0]) for r in catalog_rows(ws, "SELECT path FROM ingest_files")]
    return duckdb.connect().execute(sql.replace("ORDERS", f"read_parquet({files!r})")).fetchall()


def account(ws: Path, path: Path) -> tuple:
    (m,) = catalog_rows(ws, "SELECT rows_read, rows_loaded, rows_rejected FROM ingest_manifest"
                            " WHERE path = $p", {"p": str(path)})
    assert m[0] == m[1] + m[2]
    return m


def rejects(ws: Path, path: Path) -> list[tuple]:
    return catalog_rows(ws, "SELECT line, column_name, reason, raw_line, error_type FROM ingest_rejects"
                            " WHERE path = $p ORDER BY line", {"p": str(path)})


@pytest.mark.parametrize("gz,mixed", [(False, False), (True, True)])
def test_csv_non_plain_integers_are_rejects_on_their_lines(tmp_path, gz, mixed):
    """Bad values in several integer columns (order id, price, quantity, side), between blank
    lines and a line DuckDB rejects itself (a column too many), so lines must be matched right;
    ``mixed`` line endings make the reader use a sanitised copy."""
    lines, expect = list(LINES), {}
    cols = ["order_id", "price", "quantity", "side"]
    for k, v in enumerate(BAD):                            # data lines 3, 13, 23, ...
        i = 2 + 10 * k
        lines[i] = with_field(lines[i], cols[k % len(cols)], v)
        expect[i] = (cols[k % len(cols)], v)
    for i, (v, _) in enumerate(GOOD):                      # lines 6, 7, 8: loaded
        lines[5 + i] = with_field(lines[5 + i], "quantity", v)
    lines[40] = lines[40] + b",extra"                      # DuckDB's own reject
    lines[200:200] = [b"", b""]                            # two blank lines after line 200
    phys = {(i + 1 if i < 200 else i + 3): v for i, v in expect.items()}
    raw = {(i + 1 if i < 200 else i + 3): lines[i if i < 200 else i + 2] for i in expect}
    ends = [b"\r\n" if mixed and i % 3 == 0 else b"\n" for i in range(len(lines))]
    f = write(tmp_path / "src" / ("o.csv.gz" if gz else "o.csv"), lines, ends)
    ingest(tmp_path / "ws", str(f))
    assert account(tmp_path / "ws", f) == (DATA, DATA - len(BAD) - 1, len(BAD) + 1)
    got = {r[0]: r for r in rejects(tmp_path / "ws", f)}
    assert set(got) == set(phys) | {41}
    for line, (col, v) in phys.items():
        ln, column, reason, raw_line, etype = got[line]
        assert (column, raw_line, etype) == (col, raw[line], "CAST")
        assert "plain integer" in reason and v.decode() in reason
    bad_ids = stored(tmp_path / "ws", "SELECT count(*) FROM ORDERS WHERE order_id = 7904794002900000000"
                                      " OR price IN (12, 3438) OR quantity = 100")
    assert bad_ids == [(0,)]
    rows = [int(LINES[5 + i].split(b",")[COL["row_num"]]) for i in range(len(GOOD))]
    assert stored(tmp_path / "ws", f"SELECT quantity FROM ORDERS WHERE row_num IN ({', '.join(map(str, rows))})"
                                   " ORDER BY row_num") == [(n,) for _, n in GOOD]


def test_csv_out_of_range_and_missing_required_integer(tmp_path):
    lines = list(LINES)
    lines[3] = with_field(lines[3], "order_id", b"-5")                    # UBIGINT
    lines[4] = with_field(lines[4], "side", b"99999999999")               # INTEGER
    lines[5] = with_field(lines[5], "price", b"")                         # required
    lines[6] = with_field(lines[6], "national_bid", b"")                  # optional: NULL, loaded
    assert LINES[6].split(b",")[COL["national_bid"]] != b""
    f = write(tmp_path / "src" / "o.csv", lines)
    ingest(tmp_path / "ws", str(f))
    assert account(tmp_path / "ws", f) == (DATA, DATA - 3, 3)
    got = [(r[0], r[1]) for r in rejects(tmp_path / "ws", f)]
    assert got == [(4, "order_id"), (5, "side"), (6, "price")]
    empty = sum(1 for i, ln in enumerate(lines) if i not in (0, 3, 4, 5) and ln.split(b",")[COL["national_bid"]] == b"")
    assert stored(tmp_path / "ws", "SELECT count(*) FROM ORDERS WHERE national_bid IS NULL") == [(empty,)]


def _parquet(path: Path, select: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    src = duckdb.connect()
    src.execute(f"COPY (SELECT {select} FROM read_csv($s, header = true, all_varchar = true))"
                f" TO '{path}' (FORMAT parquet)", {"s": str(SAMPLE)})
    return path


@pytest.mark.parametrize("float_type,bound", [("DOUBLE", "2^53"), ("FLOAT", "2^24")])
def test_parquet_float_order_ids_are_rejected_not_collapsed(tmp_path, float_type, bound):
    """Order ids (19 digits) through a float are already rounded: every row is a reject. A 32-bit
    float holds integers exactly only to 2^24, a 64-bit one to 2^53."""
    f = _parquet(tmp_path / "src" / "o.parquet", f"* REPLACE (order_id::{float_type} AS order_id)")
    ingest(tmp_path / "ws", str(f))
    assert account(tmp_path / "ws", f) == (DATA, 0, DATA)
    rj = rejects(tmp_path / "ws", f)
    assert {r[1] for r in rj} == {"order_id"} and all(bound in r[2] for r in rj)
    assert [r[0] for r in rj] == list(range(1, DATA + 1))


def test_parquet_non_integral_values_rejected_integral_ones_exact(tmp_path):
    sel = ("* REPLACE ("
           " CASE WHEN row_num::INT = 3 THEN 12.31 ELSE price::DOUBLE END::DOUBLE AS price,"
           " CASE WHEN row_num::INT = 4 THEN '1e2' ELSE quantity END AS quantity,"
           " CASE WHEN row_num::INT = 5 THEN 7.5 ELSE leavesquantity::DECIMAL(18, 2) END::DECIMAL(18, 2)"
           " AS leavesquantity)")
    f = _parquet(tmp_path / "src" / "o.parquet", sel)
    ingest(tmp_path / "ws", str(f))
    assert account(tmp_path / "ws", f) == (DATA, DATA - 3, 3)
    rj = rejects(tmp_path / "ws", f)
    assert [(r[0], r[1]) for r in rj] == [(3, "price"), (4, "quantity"), (5, "leavesquantity")]
    assert "2^53" in rj[0][2] and "plain integer" in rj[1][2] and "integral" in rj[2][2]
    # every other row loaded with the CSV's exact numbers
    want = duckdb.connect().execute(
        "SELECT sum(price::BIGINT), sum(quantity::BIGINT), sum(leavesquantity::BIGINT)"
        " FROM read_csv($s, header = true, all_varchar = true) WHERE row_num::INT NOT IN (3, 4, 5)",
        {"s": str(SAMPLE)}).fetchall()
    assert stored(tmp_path / "ws", "SELECT sum(price), sum(quantity), sum(leavesquantity) FROM ORDERS") == want


@pytest.mark.parametrize("also_lenient", [False, True])
def test_csv_text_that_does_not_cast_in_an_optional_column_is_a_reject_on_its_line(tmp_path, also_lenient):
    """'abc' fails the typed read's cast (DuckDB's message); with a '1.5' elsewhere the file is
    read again strictly and both rows are rejects (the strict reasons)."""
    lines = list(LINES)
    lines[3] = with_field(lines[3], "national_bid", b"abc")              # optional: not NULL, bad
    if also_lenient:
        lines[5] = with_field(lines[5], "quantity", b"1.5")
    f = write(tmp_path / "src" / "o.csv.gz", lines)
    ingest(tmp_path / "ws", str(f))
    bad = 1 + also_lenient
    assert account(tmp_path / "ws", f) == (DATA, DATA - bad, bad)
    rj = rejects(tmp_path / "ws", f)
    assert [(r[0], r[1], r[3]) for r in rj] == [(4, "national_bid", lines[3]), (6, "quantity", lines[5])][:bad]
    assert "abc" in rj[0][2]
    if also_lenient:
        assert all("not a plain integer" in r[2] for r in rj) and rj[1][2].endswith(": 1.5")


@pytest.mark.parametrize("value", [b"0b101", b"0B1", b"\t12", b"1.5", b"1e2", b"5_000", b"0x10"])
def test_the_typed_read_is_kept_only_when_no_integer_value_holds_a_lenient_byte(tmp_path, value):
    from duckpipe.ingest.strict import needs_strict_read
    assert duckdb.connect().execute("SELECT TRY_CAST($v AS BIGINT) IS NOT NULL", {"v": value.decode()}
                                    ).fetchone()[0]                # DuckDB's cast takes it, so ...
    con = duckdb.connect()
    cols = [("a", "BIGINT"), ("t", "VARCHAR"), ("b", "BIGINT")]

    def strict(body: bytes) -> bool:
        path = tmp_path / "f.csv"
        path.write_bytes(b"a,t,b\n" + body)
        return needs_strict_read(con, path, str(path), "none", cols)

    assert not strict(b"1,x,2\n-3,y,+4\n")                             # no such byte anywhere
    assert not strict(b"1,Rest of Day,2\n-3,\"" + value + b"\",+4\n")  # only in the text column
    assert strict(b"1,Rest of Day,2\n" + value + b",y,4\n")            # ... in an integer column
    assert strict(b"1,Rest of Day,2\n3,y," + value + b"\n")
    assert strict(b"1,Rest of Day,2\n" + value + b",y\n")              # in a row the reader skips
    assert not strict(b"1,x,2\n") and needs_strict_read(con, tmp_path / "f.csv", "", "gzip", cols)


@pytest.mark.parametrize("name", ["o.csv", "o.csv.gz"])
def test_text_columns_with_lenient_bytes_keep_the_typed_read(tmp_path, name):
    """The sample's text columns hold 'e' and 'a' ('Rest of Day'): read typed and checked after,
    not read again; a '1.5' in an integer column makes the second, strict read."""
    for case, lines in (("clean", LINES), ("lenient", [*LINES[:5], with_field(LINES[5], "quantity", b"1.5"),
                                                       *LINES[6:]])):
        f = write(tmp_path / case / name, lines)
        res = duckpipe_cli("ingest", "--orders", str(f), "--workspace", str(tmp_path / f"ws_{case}"), "-v")
        assert res.returncode == 0, res.stderr
        assert ("reading its integers strictly" in res.stderr) == (case == "lenient"), res.stderr
        assert account(tmp_path / f"ws_{case}", f) == (DATA, DATA - (case == "lenient"), case == "lenient")
