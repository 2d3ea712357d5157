"""Fault corpus of issue 12, ingest half: line endings, quotes, long raw lines, one failing file,
ingest at a small memory limit. Every input is the committed synth sample with bytes edited.

Each case checks the exit code, the rows loaded, the reject lines (physical, 1-based, header =
line 1) with their reasons and exact raw bytes, and rows_read = rows_loaded + rows_rejected.
"""
from __future__ import annotations

import gzip
import re
from pathlib import Path

import duckdb
import pytest
from conftest import REPO, duckpipe_cli

from duckpipe import catalog
from duckpipe.ingest.load import ingest
from duckpipe.settings import resolve

SAMPLE = REPO / "data" / "sample-asx" / "orders" / "synth_20240902_orders.csv.gz"
PRICE = 4                                    # 0-based column of `price` in the sample header


def sample_lines() -> list[bytes]:
    """The sample's physical lines without line endings (header first)."""
    data = gzip.decompress(SAMPLE.read_bytes())
    assert data.endswith(b"\n") and b"\r" not in data and b'"' not in data
    return data[:-1].split(b"\n")


LINES = sample_lines()
DATA = len(LINES) - 1                        # data rows of the sample


def with_field(line: bytes, col: int, value: bytes) -> bytes:
    fields = line.split(b",")
    fields[col] = value
    return b",".join(fields)


def write(path: Path, lines: list[bytes], ends: list[bytes] | bytes = b"\n") -> Path:
    ends = [ends] * len(lines) if isinstance(ends, bytes) else ends
    data = b"".join(ln + e for ln, e in zip(lines, ends))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def cli_ingest(ws: Path, glob: str, limit: str = "1GB") -> int:
    res = duckpipe_cli("ingest", "--orders", glob, "--workspace", str(ws), "--memory-limit", limit,
                       "--threads", "2")
    assert "This is a bug" not in res.stderr + res.stdout, res.stderr
    return res.returncode


def manifest(ws: Path, path: Path) -> tuple:
    with duckdb.connect(str(ws / "duckpipe.duckdb"), read_only=True) as con:
        return con.execute("SELECT status, rows_read, rows_loaded, rows_rejected, blank_lines, lines"
                           " FROM ingest_manifest WHERE path = $p", {"p": str(path)}).fetchone()


def rejects(ws: Path, path: Path) -> list[tuple]:
    with duckdb.connect(str(ws / "duckpipe.duckdb"), read_only=True) as con:
        return con.execute("SELECT line, column_name, reason, raw_line FROM ingest_rejects"
                           " WHERE path = $p ORDER BY line", {"p": str(path)}).fetchall()


def stored(ws: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(ws / "duckpipe.duckdb"), read_only=True) as con:
        files = [str(ws / r[0]) for r in con.execute("SELECT path FROM ingest_files").fetchall()]
    return duckdb.connect().execute(sql.replace("ORDERS", f"read_parquet({files!r})")).fetchall()


def check_account(m: tuple) -> None:
    status, read, loaded, rejected, _, _ = m
    assert status == "loaded" and read == loaded + rejected


# ---------------------------------------------------------------- item 3: line endings

def test_one_crlf_line_in_lf_file(tmp_path):
    ends = [b"\n"] * len(LINES)
    ends[9] = b"\r\n"                                        # physical line 10 ends with CRLF
    f = write(tmp_path / "src" / "o.csv", LINES, ends)
    assert cli_ingest(tmp_path / "ws", str(f)) == 0
    m = manifest(tmp_path / "ws", f)
    assert m == ("loaded", DATA, DATA, 0, 0, len(LINES))
    assert rejects(tmp_path / "ws", f) == []
    assert stored(tmp_path / "ws", "SELECT count(*) FROM ORDERS") == [(DATA,)]


def test_alternating_crlf_lf_with_a_bad_row(tmp_path):
    lines = list(LINES)
    lines[40] = with_field(lines[40], PRICE, b"x\xff")         # line 41: not a number, not UTF-8
    ends = [b"\r\n" if i % 2 else b"\n" for i in range(len(lines))]
    f = write(tmp_path / "src" / "o.csv", lines, ends)
    assert cli_ingest(tmp_path / "ws", str(f)) == 0
    m = manifest(tmp_path / "ws", f)
    check_account(m)
    assert m[1:] == (DATA, DATA - 1, 1, 0, len(lines))
    ((line, col, reason, raw),) = rejects(tmp_path / "ws", f)
    # integer columns are read as text (strict integers), so DuckDB names the bad UTF-8 first
    assert (line, col, raw) == (41, "price", lines[40]) and reason.lower().startswith(("cast", "invalid encoding"))


def test_cr_only_file_loads_and_does_not_stop_the_next_file(tmp_path):
    """CR-only endings, gzipped, with a bad row on line 5; a normal file after it still loads."""
    lines = list(LINES)
    lines[4] = with_field(lines[4], PRICE, b"abc")
    cr = write(tmp_path / "src" / "a_cr.csv.gz", lines, b"\r")
    lf = write(tmp_path / "src" / "b_lf.csv", LINES)
    assert cli_ingest(tmp_path / "ws", str(tmp_path / "src" / "*")) == 0
    m = manifest(tmp_path / "ws", cr)
    check_account(m)
    assert m[1:] == (DATA, DATA - 1, 1, 0, len(lines))
    assert [(r[0], r[1], r[3]) for r in rejects(tmp_path / "ws", cr)] == [(5, "price", lines[4])]
    assert manifest(tmp_path / "ws", lf) == ("loaded", DATA, DATA, 0, 0, len(LINES))
    assert stored(tmp_path / "ws", "SELECT count(*) FROM ORDERS") == [(2 * DATA - 1,)]


def test_a_file_failing_unexpectedly_never_stops_the_others(tmp_path, monkeypatch):
    """An exception nobody foresaw fails its file only: a manifest row with the reason."""
    from duckpipe.ingest import load as ingest_mod
    bad = write(tmp_path / "src" / "orders" / "a.csv", LINES)
    good = write(tmp_path / "src" / "orders" / "b.csv", LINES)
    real = ingest_mod._load_event

    def flaky(con, f, *a, **kw):
        if f.path.name == "a.csv":
            raise RuntimeError("boom")
        return real(con, f, *a, **kw)

    monkeypatch.setattr(ingest_mod, "_load_event", flaky)
    st = resolve(workspace=tmp_path / "ws", memory_limit="1GB", threads=2, env={})
    with catalog.open_workspace(st, "ingest") as con:
        s = ingest(con, st, [tmp_path / "src"])
    by = {Path(r.path).name: r for r in s.files}
    assert by["a.csv"].status == "failed" and "RuntimeError: boom" in by["a.csv"].error
    assert (by["b.csv"].status, by["b.csv"].rows_loaded) == ("loaded", DATA)
    assert manifest(tmp_path / "ws", bad)[0] == "failed"
    assert manifest(tmp_path / "ws", good) == ("loaded", DATA, DATA, 0, 0, len(LINES))


# ---------------------------------------------------------------- item 4: quotes

def test_quoted_field_spanning_two_lines_is_one_row(tmp_path):
    lines = list(LINES)
    col = LINES[0].split(b",").index(b"timevaliditydecoded")
    first, second = with_field(lines[2], col, b'"Da\nys"').split(b"\n")
    lines[2:3] = [first, second]                             # record of physical lines 3-4
    lines[10] = with_field(lines[10], PRICE, b"bad")          # physical line 11, record 10
    f = write(tmp_path / "src" / "o.csv", lines)
    assert cli_ingest(tmp_path / "ws", str(f)) == 0
    m = manifest(tmp_path / "ws", f)
    check_account(m)
    assert m[1:] == (DATA, DATA - 1, 1, 0, len(lines))
    assert [(r[0], r[1], r[3]) for r in rejects(tmp_path / "ws", f)] == [(11, "price", lines[10])]
    oid = int(LINES[2].split(b",")[0])
    seq = int(LINES[2].split(b",")[21])
    assert stored(tmp_path / "ws", f"SELECT timevaliditydecoded FROM ORDERS WHERE order_id = {oid}"
                                   f" AND seq = {seq}") == [("Da\nys",)]


def test_quoted_multiline_record_with_a_bad_value_keeps_both_lines_raw(tmp_path):
    lines = list(LINES)
    col = LINES[0].split(b",").index(b"timevaliditydecoded")
    rec = with_field(with_field(lines[6], col, b'"Da\r\nys"'), PRICE, b"bad")
    lines[6:7] = rec.split(b"\r\n")                          # physical lines 7-8, CRLF inside
    ends = [b"\r\n"] * len(lines)
    f = write(tmp_path / "src" / "o.csv", lines, ends)
    assert cli_ingest(tmp_path / "ws", str(f)) == 0
    m = manifest(tmp_path / "ws", f)
    check_account(m)
    assert m[1:3] == (DATA, DATA - 1)
    assert [(r[0], r[3]) for r in rejects(tmp_path / "ws", f)] == [(7, rec)]


def test_unterminated_quotes_lose_no_good_row(tmp_path):
    """Line 20 opens a quote that never closes; line 300 has a stray quote that would 'close'
    it into a 281-line record of the wrong width. Both are rejected on their own lines; every
    other row loads."""
    lines = list(LINES)
    col = LINES[0].split(b",").index(b"timevaliditydecoded")
    lines[19] = with_field(lines[19], col, b'"Days')
    lines[299] = with_field(lines[299], col, b'Da"ys')
    f = write(tmp_path / "src" / "o.csv", lines)
    assert cli_ingest(tmp_path / "ws", str(f)) == 0
    m = manifest(tmp_path / "ws", f)
    check_account(m)
    assert m[1:] == (DATA, DATA - 2, 2, 0, len(lines))
    rj = rejects(tmp_path / "ws", f)
    assert [(r[0], r[3]) for r in rj] == [(20, lines[19]), (300, lines[299])]
    assert all("quote" in r[2].lower() for r in rj)
    assert stored(tmp_path / "ws", "SELECT count(*) FROM ORDERS") == [(DATA - 2,)]


# ---------------------------------------------------------------- item 5: long raw lines

def test_five_megabyte_line_is_kept_whole_and_exact(tmp_path):
    lines = list(LINES)
    filler = bytes(b for b in range(32, 256) if b not in b'",')       # no quote, no comma
    long = (b"7904794000900000112,\xff\xfe" + filler * 23_000)[:5_000_000]
    assert len(long) == 5_000_000 and b"\n" not in long and b"\r" not in long
    lines[99] = long
    ends = [b"\n"] * len(lines)
    ends[99] = b"\r\n"
    f = write(tmp_path / "src" / "o.csv", lines, ends)
    assert cli_ingest(tmp_path / "ws", str(f)) == 0
    m = manifest(tmp_path / "ws", f)
    check_account(m)
    assert m[1:3] == (DATA, DATA - 1)
    ((line, _, reason, raw),) = rejects(tmp_path / "ws", f)
    assert line == 100 and reason
    assert len(raw) == 5_000_000 and raw == long


# ---------------------------------------------------------------- item 2: memory limit

def test_small_memory_limit_uses_small_buffers_one_thread_and_restores_threads(tmp_path):
    """At 96MB the CSV buffers shrink to 5 MiB and the read/sort runs on one thread (what makes
    a >= 200 MB file fit at 128MB: bench/bench_ingest_small_limit.py); threads come back."""
    from duckpipe.ingest.memory import csv_buffer_size, ingest_threads
    f = write(tmp_path / "src" / "orders" / "o.csv", LINES)
    st = resolve(workspace=tmp_path / "ws", memory_limit="96MB", threads=2, env={})
    with catalog.open_workspace(st, "ingest") as con:
        assert csv_buffer_size(con) == 5 << 20
        assert ingest_threads(96 << 20, 2) == 1 and ingest_threads(1 << 30, 2) == 2
        (r,) = ingest(con, st, [tmp_path / "src"]).files
        assert con.execute("SELECT current_setting('threads')").fetchall()[0][0] == 2
    assert (r.status, r.rows_read, r.rows_loaded, r.rows_rejected) == ("loaded", DATA, DATA, 0)
    assert manifest(tmp_path / "ws", f)[0] == "loaded"


@pytest.mark.parametrize("limit,want", [("1GB", None), ("512MB", 30 << 20), ("128MB", 7 << 20), ("256MB", 15 << 20), ("64MB", 4 << 20)])
def test_csv_buffer_follows_the_limit(limit, want):
    from duckpipe.ingest.memory import csv_buffer_size
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{limit}'")
    assert csv_buffer_size(con) == want
    assert re.fullmatch(r"[0-9.]+ [KMG]iB", con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64])
def test_line_splitter_quotes_and_endings_across_chunk_boundaries(tmp_path, monkeypatch, chunk):
    """The splitter alone, with tiny chunks: spans, blank lines inside a quoted field (not blank
    lines of the file), a stray quote, raw bytes of a span with its original endings."""
    from duckpipe.ingest import linesplit
    monkeypatch.setattr(linesplit, "CHUNK", chunk)
    data = (b'a,b,c\r\n1,"x\r\n\r\ny",3\n\n2,z"z,4\r5,q,6\r\n7,"p\n",8')
    # lines: 1 hdr | 2 1,"x | 3 (in quote) | 4 y",3 | 5 blank | 6 2,z"z,4 | 7 5,q,6 | 8 7,"p | 9 ",8
    p = tmp_path / "f.csv"
    p.write_bytes(data)
    sc = linesplit.scan(p, False, 3)
    assert sc.lines == 9 and sc.blank == 1
    assert sc.spans == {2: 4, 8: 9} and sc.bad_quotes == [6]
    assert sc.records == 4 and sc.mixed_endings            # two spans, line 6, line 7
    assert linesplit.extract(p, False, {2: 4, 6: 6, 8: 9}) == {
        2: b'1,"x\r\n\r\ny",3', 6: b'2,z"z,4', 8: b'7,"p\n",8'}
    out = tmp_path / "s.csv"
    linesplit.sanitise(p, False, out, {6})
    assert out.read_bytes() == b'a,b,c\n1,"x\n\ny",3\n\n\n5,q,6\n7,"p\n",8'
