"""Strict integers in ingest (SPEC §3): a value of an integer column must be a plain integer.

DuckDB's text-to-integer cast, in ``read_csv`` as in ``CAST``, also takes ``12.31`` (stored
12), ``7.9047940029E+18`` (an order id Excel rounded), ``1e2``, ``0x10`` and ``5_000``, with
no option to refuse them (duckdb/duckdb#25824). Such a text needs one of ``LENIENT_BYTES``.
A CSV is read typed first; afterwards ``lenient_accounted`` checks that every such byte of the
file is in its header, a text value or a rejected line. Else (and before the read for files it
cannot check: ``needs_strict_read``) the CSV reader reads integer columns as text and
sql/ingest/sorted_csv.sql casts them, leaving out rows with a bad value; as DuckDB's CSV reader
numbers no rows, ``locate_csv`` finds those rows' lines afterwards, and only when rows are
missing from the account (sql/ingest/strict_int_csv.sql). Parquet inputs are checked
in sql/ingest/sorted_parquet.sql (``parquet_kinds``).
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pyarrow as pa

from ..db import execute
from ..sqlrender import render, split_statements
from .inputid import glob_literal
from .linesplit import LENIENT_PATTERN, LineScan, blank_lines, lenient_count, read_header, sanitise

log = logging.getLogger(__name__)

INTEGER_TYPES = frozenset({"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
                           "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"})
_FLOATS = frozenset({"FLOAT", "REAL", "DOUBLE", "FLOAT4", "FLOAT8"})


_COUNTED_TYPES = frozenset({"VARCHAR"})   # text columns: their lenient bytes are counted in the values
_DATES = frozenset({"DATE"})              # a date text with such a byte ('2024.09.02') leaves a difference
_CHUNK = 8 << 20


def needs_strict_read(con: duckdb.DuckDBPyConnection, path: Path, sql_path: str, compression: str,
                      file_cols: list[tuple[str, str]], buffer_size: int | None = None) -> bool:
    """Whether the file at ``path`` must take the strict read (integer columns as text, cast in
    SQL: ~4x the typed read of an orders file), or its typed read is exact.

    The typed read is exact when no integer value holds a byte of ``LENIENT_BYTES``. One pass
    in C counts those bytes after the header; none (an all-numeric quotes file): typed. Beside it
    sql/ingest/lenient_bytes.sql counts them in the values of the other columns (an exchange's
    decoded text columns hold them: 'Rest of Day', 'Sell'); equal counts: typed. ``sql_path`` is
    the same file as DuckDB reads it (the check must see the split the read will see). A gzip
    file, or a count that fails, is read strictly: the check can only cost time, never exactness.
    """
    ints = strict_columns(file_cols)
    if not ints:
        return False
    if compression != "none":
        return True
    skip = len(read_header(path, False))
    others = [n for n, _ in file_cols if n not in ints]
    if not others:
        return lenient_bytes(path, skip) > 0
    sql = render("ingest/lenient_bytes.sql", path=sql_path, compression=compression, buffer_size=buffer_size,
                 columns=[n for n, _ in file_cols], others=others, pattern=LENIENT_PATTERN)
    with ThreadPoolExecutor(1, thread_name_prefix="duckpipe-lenient") as pool:
        in_file = pool.submit(lenient_bytes, path, skip)      # beside DuckDB's count (it releases the GIL)
        try:
            in_others = con.execute(sql).fetchall()[0][0]
        except duckdb.Error as exc:        # the strict read reports what is wrong with the file
            log.debug("%s: lenient-byte count failed (%s); strict read", path, exc)
            in_others = None
        return in_file.result() > 0 and in_others != in_file.result()


def verifiable_after(file_cols: list[tuple[str, str]]) -> tuple[str, ...] | None:
    """The text columns to count when the file can be read typed first and checked afterwards
    (:func:`lenient_accounted`); None when it cannot: no integer column (nothing to check), a
    column the read does not keep (``_extra_``), or one whose values are not text (a float's
    '.', a boolean's 'e' would always differ: decided before reading, ``needs_strict_read``)."""
    ints = strict_columns(file_cols)
    if not ints:
        return None
    others = [(n, t.upper()) for n, t in file_cols if n not in ints]
    if any(n.startswith("_extra_") or t not in _COUNTED_TYPES | _DATES for n, t in others):
        return None
    return tuple(n for n, t in others if t in _COUNTED_TYPES)


def lenient_in(values: pa.Array | pa.ChunkedArray) -> int:
    """Lenient bytes in a text column's values, counted once per distinct value."""
    import pyarrow.compute as pc
    counts = pc.value_counts(values)
    per_value = pc.count_substring_regex(counts.field("values"), LENIENT_PATTERN)
    return int(pc.sum(pc.multiply(per_value, counts.field("counts"))).as_py() or 0)


def lenient_accounted(con: duckdb.DuckDBPyConnection, sc: LineScan, header: bytes, in_values: int) -> bool:
    """After a typed read: whether every lenient byte of the file (``sc.lenient``, the line pass)
    is in the header, in a text value read (``in_values``) or in a rejected line's exact bytes;
    then no integer value held one and the typed read was exact. A reject without its bytes (a
    row the parser lost) cannot be accounted: False, and the file is read again strictly."""
    rows = execute(con, render("ingest/rejected_lines.sql"), template="ingest/rejected_lines.sql").fetchall()
    if any(line is None or raw is None for line, raw in rows):
        return False
    rejected = sum(lenient_count(bytes(raw)) for _, raw in rows)
    return sc.lenient == lenient_count(header) + in_values + rejected


def lenient_bytes(path: Path, skip: int) -> int:
    """How many bytes of ``LENIENT_BYTES`` the file holds after its first ``skip`` bytes."""
    n = 0
    with open(path, "rb") as fh:
        fh.seek(skip)
        while chunk := fh.read(_CHUNK):
            n += lenient_count(chunk)
    return n


def strict_columns(file_cols: list[tuple[str, str]]) -> dict[str, str]:
    """The file's integer columns: name -> store type."""
    return {n: t for n, t in file_cols if t.upper() in INTEGER_TYPES}


def read_types(file_cols: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The types ``read_csv`` is given: integer columns as text."""
    return [(n, "VARCHAR" if t.upper() in INTEGER_TYPES else t) for n, t in file_cols]


def parquet_kind(target: str, source: str) -> str:
    """How a Parquet value is checked against an integer column: 'text' (a plain integer
    literal), 'float' (integral and within 2^53; 'float32': 2^24), 'exact' (integral: DECIMAL, integers), or
    '' (the plain cast, as for other columns) for any other pair."""
    s = source.upper()
    if target.upper() not in INTEGER_TYPES:
        return ""
    if s == "VARCHAR":
        return "text"
    if s in _FLOATS:
        return "float" if s in ("DOUBLE", "FLOAT8") else "float32"
    return "exact" if s in INTEGER_TYPES or s.startswith("DECIMAL") else ""


def _run(con: duckdb.DuckDBPyConnection, template: str, **ctx) -> None:
    for stmt in split_statements(render(template, **ctx)):
        execute(con, stmt, template=template)


def locate_csv(con: duckdb.DuckDBPyConnection, path: Path, gz: bool, sc: LineScan, staging: Path,
               file_id: str, ctx: dict) -> int:
    """Add a reject (line, column, reason) to ``_dp_rejects`` for each row left out for a bad
    integer text; returns how many. ``ctx``: file_cols (as read), strict, required."""
    src, compression, copy = str(path), "gzip" if gz else "none", None
    if sc.needs_sanitise:                 # the main read used a sanitised copy: read one again
        staging.mkdir(parents=True, exist_ok=True)
        copy = staging / f"{file_id}.strict.csv"
        sanitise(path, gz, copy, set(sc.bad_quotes))
        src, compression = str(copy), "none"
    try:
        con.register("_dp_blank_lines", pa.table({"b": pa.array(blank_lines(Path(src), compression == "gzip"),
                                                                pa.int64())}))
        con.register("_dp_spans_phys", pa.table({"s": pa.array(list(sc.spans), pa.int64()),
                                                 "e": pa.array(list(sc.spans.values()), pa.int64())}))
        _run(con, "ingest/strict_int_csv.sql", path=glob_literal(src), compression=compression, lines=sc.lines,
             **ctx)
    finally:
        for v in ("_dp_blank_lines", "_dp_spans_phys"):
            con.unregister(v)
        if copy is not None:
            copy.unlink(missing_ok=True)
    n_bad, n_rows = con.execute("SELECT count(*), max(n_rows) FROM _dp_strict").fetchall()[0]
    if not n_bad:
        return 0
    matched = con.execute("SELECT count(*) FROM _dp_strict_lines").fetchall()[0][0] == n_rows
    if not matched:                       # cannot happen unless DuckDB lost rows: keep them, lineless
        log.warning("%s: %d row(s) with a bad integer could not be matched to their lines", path, n_bad)
    _run(con, "ingest/strict_int_rejects.sql", matched=matched)
    return n_bad


# the reject reason of a Parquet row, by the check its first bad column failed (parquet_kind)
PARQUET_REASONS = {
    "": "value does not convert to the column type or required value missing",
    "text": "not a plain integer (digits and an optional sign only), out of range, or required value missing",
    "float": "floating-point value in an integer column that is not integral or beyond 2^53 (a float"
             " cannot hold it exactly), or required value missing",
    "float32": "32-bit floating-point value in an integer column that is not integral or beyond 2^24 (a"
               " 32-bit float cannot hold it exactly), or required value missing",
    "exact": "value not integral or out of range for the integer column, or required value missing",
}
