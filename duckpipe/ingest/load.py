"""Raw files -> typed, sorted Parquet store + manifest, rejects and slice checksums (SPEC §3).

Per input file, one pass: a typed DuckDB read (bad rows go to DuckDB's reject tables)
sorted by (business date, security, time, ...) — the ORDER BY spills to temp_directory
under memory_limit, so any file size fits — streamed as Arrow batches into one Parquet file
per business date (pyarrow writer, temporary name, renamed when complete). The per-(security,
date) row counts and checksums are summed from a hash column of the same query. Then ONE
catalog transaction (manifest, store files, slices, rejects) is the commit point. A kill
leaves at most orphan files, removed on the next run. A byte-level pass over the
decompressed file (in a thread, C-level counting) counts lines and blank lines; the exact
bytes of rejected lines are re-read only when there are rejects, so
``rows_read = rows_loaded + rows_rejected`` is checked.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import itertools
import logging
import os
import resource
import shutil
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .. import store
from ..db import QueryError, execute, transaction
from ..errors import InputError, Interrupted
from ..profiles import Profile, TableDef
from ..settings import Settings
from ..sqlrender import render, run_script
from .inputid import file_crc, glob_literal, same_content, same_files
from .linesplit import LineScan, extract, peek_irregular, read_header, sanitise, scan
from .memory import csv_buffer_size, ingest_threads, memory_limit
from .rawfiles import InputFile, discover, fingerprint, parse_header, scan_lines
from .strict import (
    PARQUET_REASONS,
    lenient_accounted,
    lenient_in,
    locate_csv,
    needs_strict_read,
    parquet_kind,
    read_types,
    strict_columns,
    verifiable_after,
)

log = logging.getLogger(__name__)

ROW_GROUP_SIZE = 65_536
COMPRESSION = "snappy"         # measured per 58 MB of CSV: snappy 0.13 s, zstd 0.20 s (files 1.4x smaller)
REJ_T, REJ_S = "_dp_reject_errors", "_dp_reject_scans"


@dataclass
class FileResult:
    path: str
    table: str
    status: str                  # loaded | skipped_unchanged | skipped_duplicate | renamed | failed
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    blank_lines: int = 0
    seconds: float = 0.0
    error: str | None = None
    note: str | None = None      # skipped_duplicate / renamed: the earlier path


@dataclass
class IngestSummary:
    files: list[FileResult] = field(default_factory=list)
    skipped_paths: list[str] = field(default_factory=list)
    rows_loaded: int = 0
    rows_rejected: int = 0
    bytes_read: int = 0
    seconds: float = 0.0
    peak_rss_bytes: int = 0

    @property
    def failed(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "failed"]


# ---------------------------------------------------------------- column mapping

def map_columns(tdef: TableDef, names: list[str], path: Path
                ) -> tuple[list[tuple[str, str]], set[str]]:
    """File columns by position -> (canonical or placeholder name, type); checks required ones."""
    known = tdef.by_lower
    file_cols, present = [], set()
    for i, raw in enumerate(names):
        col = known.get(raw.lower())
        if col is None or col.name in present:
            if col is not None:
                raise InputError(f"{path}: column {raw!r} appears twice in the header")
            file_cols.append((f"_extra_{i}", "VARCHAR"))
            continue
        present.add(col.name)
        file_cols.append((col.name, col.type))
    missing = [c.name for c in tdef.columns if c.required and c.name not in present]
    missing += ["/".join(g) for g in tdef.required_any if not present.intersection(g)]
    if missing:
        raise InputError(f"{path}: required column(s) missing: {', '.join(missing)}"
                         f" (header has: {', '.join(names) or 'nothing'})")
    return file_cols, present


def _qraw(name: str) -> str:
    """Quote an arbitrary identifier taken from a file (double quotes doubled)."""
    if "\x00" in name:
        raise InputError(f"NUL byte in column name {name!r}")
    return '"' + name.replace('"', '""') + '"'


# ---------------------------------------------------------------- loading one file

@dataclass
class Loaded:
    """What one input file produced, before the commit."""

    store: list[tuple[str, object, int]] = field(default_factory=list)   # (path, date, rows)
    slices: list[tuple[int, object, str, int, int]] = field(default_factory=list)
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_read: int = 0
    blank: int = 0
    lines: int | None = None
    crc: str | None = None
    lenient: int = 0             # bytes of strict.LENIENT_BYTES in the text columns' values read


def _sql(con: duckdb.DuckDBPyConnection, template: str, **ctx) -> duckdb.DuckDBPyConnection:
    """Run every statement of a template; return the cursor of the last one."""
    from ..sqlrender import split_statements
    cur = con
    for stmt in split_statements(render(template, **ctx)):
        cur = execute(con, stmt, template=template)
    return cur


def _drop_rejects(con: duckdb.DuckDBPyConnection) -> None:
    for t in (REJ_T, REJ_S, "_dp_rejects"):
        con.execute(f"DROP TABLE IF EXISTS temp.{t}")


def _csv_rejects(con: duckdb.DuckDBPyConnection, f: InputFile, header: bytes) -> list[int]:
    """Collapse DuckDB's per-field errors to one row per line; returns the lines."""
    _sql(con, "ingest/rejects_csv.sql", rejects_table=REJ_T)
    return [r[0] for r in con.execute("SELECT line FROM _dp_rejects ORDER BY line").fetchall()]


def _fill_raw(con: duckdb.DuckDBPyConnection, scan: LineScan, header: bytes) -> None:
    """Put the exact bytes of each rejected line in place; label repeated headers."""
    if scan.raw:
        raw = pa.table({"line": pa.array(list(scan.raw), pa.int64()),
                        "raw": pa.array(list(scan.raw.values()), pa.binary())})
        con.register("_dp_raw", raw)
        con.execute("UPDATE _dp_rejects SET raw_line = r.raw FROM _dp_raw r WHERE _dp_rejects.line = r.line")
        con.unregister("_dp_raw")
    con.execute("UPDATE _dp_rejects SET reason = 'repeated header line', column_name = NULL,"
                " error_type = 'REPEATED HEADER' WHERE raw_line = $h", {"h": header})


def _account(con: duckdb.DuckDBPyConnection, res: Loaded, scan: LineScan) -> None:
    """rows_read from the physical count; any row the parser lost becomes an explicit reject."""
    res.lines, res.blank, res.crc = scan.lines, scan.blank, f"crc32:{scan.crc:08x}"
    res.rows_rejected = con.execute("SELECT count(*) FROM _dp_rejects").fetchone()[0]
    deficit = max(0, scan.records) - res.rows_loaded - res.rows_rejected
    if deficit > 0:
        log.warning("%d physical line(s) not accounted for by the CSV parser", deficit)
        con.execute("INSERT INTO _dp_rejects VALUES (NULL, NULL, $r, NULL, 'UNACCOUNTED')",
                    {"r": f"{deficit} line(s) neither loaded nor reported by the CSV parser"
                          " (a quoted field spanning lines or an unterminated quote)"})
        res.rows_rejected += deficit
    res.rows_read = res.rows_loaded + res.rows_rejected


def _event_ctx(tdef: TableDef, present: set[str]) -> dict:
    """Template context shared by the CSV and Parquet readers of an event table."""
    base = [(n, t, n in present) for n, t in tdef.store_columns()[: len(tdef.columns)]]
    return dict(base_cols=base, derived=[(d.name, d.sql) for d in tdef.derived], date_expr=tdef.date_expr,
                sort_by=list(tdef.sort_by), hash_cols=[n for n, _ in tdef.store_columns()])


def _load_event(con, f: InputFile, tdef: TableDef, out_dir: Path, file_id: str, root: Path,
                pool) -> Loaded:
    """Typed read, sorted by (date, security, time, ...), streamed into one Parquet file per date.

    One pass over the input: no staging files, the sort spills under the memory limit, the
    slice checksums come from a hash column of the same query. Rejects end in _dp_rejects.
    """
    res = Loaded()
    if f.fmt == "parquet":
        names = [r[0] for r in con.execute("SELECT name FROM parquet_schema($p) WHERE num_children IS NULL",
                                           {"p": glob_literal(str(f.path))}).fetchall()]
        file_cols, present = map_columns(tdef, [n.strip() for n in names], f.path)
        req = {c.name for c in tdef.columns if c.required}
        src = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet($p,"
                               " hive_partitioning = false))", {"p": glob_literal(str(f.path))}).fetchall())
        cols = [(n, t, _qraw(raw), n in req, parquet_kind(t, src.get(raw, ""))) for (n, t), raw
                in zip(file_cols, names) if not n.startswith("_extra_")]
        stmts = _statements("ingest/sorted_parquet.sql", cols=cols, path=glob_literal(str(f.path)),
                            **_event_ctx(tdef, present))
        for stmt in stmts[:-1]:
            execute(con, stmt, template="ingest/sorted_parquet.sql")
        _write_sorted(con, stmts[-1], tdef, out_dir, file_id, root, res)
        _sql(con, "ingest/rejects_parquet.sql", cols=cols, reasons=PARQUET_REASONS)
        res.rows_rejected = con.execute("SELECT count(*) FROM _dp_rejects").fetchone()[0]
        res.rows_read = res.rows_loaded + res.rows_rejected
        return res
    gz = f.fmt == "csv.gz"
    header = read_header(f.path, gz)
    names = parse_header(header)
    if not any(names):
        raise InputError(f"{f.path}: empty file, no header line")
    file_cols, present = map_columns(tdef, names, f.path)
    required = [c.name for c in tdef.columns if c.required and c.name in present]
    strict: dict = {}           # the read's file_cols, strict and required (locate_csv reads the same)
    counted = verifiable_after(file_cols)      # text columns whose lenient bytes the read counts
    plans = (False, True) if counted is not None else (None,)   # None: decide before reading

    def attempt(path: str, compression: str, real: Path, *, plan: bool | None) -> None:
        buffer = _csv_buffer(con)
        checked = plan if plan is not None else needs_strict_read(con, real, path, compression, file_cols, buffer)
        strict.update(file_cols=read_types(file_cols) if checked else file_cols,
                      strict=strict_columns(file_cols) if checked else {}, required=required)
        (stmt,) = _statements("ingest/sorted_csv.sql", path=path, compression=compression, buffer_size=buffer,
                              rejects_table=REJ_T, rejects_scan=REJ_S, **strict, **_event_ctx(tdef, present))
        _write_sorted(con, stmt, tdef, out_dir, file_id, root, res, () if checked else counted or ())

    def discard() -> None:
        for rel, _, _ in res.store:
            Path(store.absolute(rel, root)).unlink(missing_ok=True)
        for tmp in out_dir.rglob(f"{file_id}.parquet.tmp"):
            tmp.unlink(missing_ok=True)
        res.store.clear()
        res.slices.clear()
        res.rows_loaded = res.lenient = 0

    for plan in plans:
        sc = _read_csv(con, f, gz, len(names), pool, out_dir.parent / ".staging", file_id,
                       functools.partial(attempt, plan=plan), discard)
        _finish_csv(con, f, gz, header, sc, res,
                    lambda sc=sc: strict["strict"] and locate_csv(con, f.path, gz, sc, out_dir.parent / ".staging",
                                                                  file_id, strict))
        if plan is not False or lenient_accounted(con, sc, header, res.lenient):
            break
        log.info("%s: an integer column holds a '.', 'e', 'x', 'b', '_' or a tab; reading its integers strictly",
                 f.path)
        discard()
        _drop_rejects(con)
    return res


def _csv_buffer(con: duckdb.DuckDBPyConnection) -> int:
    """DuckDB's CSV read buffer for the current memory limit (see ingest/memory.py)."""
    return csv_buffer_size(con)


def _read_csv(con, f: InputFile, gz: bool, ncols: int, pool, staging: Path, file_id: str,
              attempt: Callable[[str, str, Path], None], discard: Callable[[], None]) -> LineScan:
    """Run ``attempt(path as SQL reads it, compression, path)`` on the file as it is, or on a sanitised copy (``\\n``
    line endings, lines with a quote that never closes emptied; same line numbers) when the
    line splitter finds that DuckDB cannot read it as it is. A file that looks regular in its
    first chunk is scanned alongside the read (no extra time); if the scan then finds an
    irregularity, the read is discarded and repeated on the sanitised copy."""
    early = peek_irregular(f.path, gz)
    counting = None if early else pool.submit(scan, f.path, gz, ncols)
    sc = scan(f.path, gz, ncols) if early else None
    failure: BaseException | None = None
    if sc is None or not sc.needs_sanitise:
        try:
            attempt(glob_literal(str(f.path)), "gzip" if gz else "none", f.path)
        except (duckdb.Error, QueryError) as exc:
            failure = exc
        finally:
            if counting is not None:
                sc = counting.result()
        if not sc.needs_sanitise:
            if failure is not None:
                raise failure
            return sc
        discard()
        _drop_rejects(con)
    log.info("%s: %s; reading a copy with normalised line endings", f.path,
             f"{len(sc.bad_quotes)} line(s) with a quote that never closes" if sc.bad_quotes
             else "mixed or CR-only line endings")
    staging.mkdir(parents=True, exist_ok=True)
    copy = staging / f"{file_id}.csv"
    try:
        sanitise(f.path, gz, copy, set(sc.bad_quotes))
        attempt(str(copy), "none", copy)
    finally:
        copy.unlink(missing_ok=True)
    return sc


def _finish_csv(con, f: InputFile, gz: bool, header: bytes, sc: LineScan, res: Loaded,
                locate: Callable[[], int] | None = None) -> None:
    """Rejects on physical lines (DuckDB numbers records), the splitter's own quote rejects,
    the rows left out for a bad integer (``locate``, only when rows are missing), exact raw
    bytes, and the rows_read account."""
    _csv_rejects(con, f, header)
    if sc.spans:
        starts = sorted(sc.spans)
        cont = [sc.spans[s] - s for s in starts]
        before = [0, *itertools.accumulate(cont)][:-1]       # continuation lines before each span
        con.register("_dp_spans", pa.table({"dline": [s - b for s, b in zip(starts, before)],
                                            "cont": cont}))
        con.execute("UPDATE _dp_rejects SET line = line + (SELECT coalesce(sum(cont), 0) FROM _dp_spans"
                    " WHERE dline < _dp_rejects.line)")
        con.unregister("_dp_spans")
    if sc.bad_quotes:
        con.register("_dp_quotes", pa.table({"line": pa.array(sc.bad_quotes, pa.int64())}))
        con.execute("INSERT INTO _dp_rejects SELECT line, NULL, 'quote error: a quoted field opened on this"
                    " line never closes (the line is rejected on its own; the next line is read as a new"
                    " row)', NULL, 'UNTERMINATED QUOTE' FROM _dp_quotes")
        con.unregister("_dp_quotes")
    if locate is not None and (max(0, sc.records) - res.rows_loaded
                               - con.execute("SELECT count(*) FROM _dp_rejects").fetchall()[0][0]) > 0:
        locate()
    wanted = [r[0] for r in con.execute(
        "SELECT DISTINCT line FROM _dp_rejects WHERE line IS NOT NULL ORDER BY line").fetchall()]
    if wanted:
        sc.raw = extract(f.path, gz, {w: sc.spans.get(w, w) for w in wanted})
    _fill_raw(con, sc, header)
    _account(con, res, sc)


def _statements(template: str, **ctx) -> list[str]:
    from ..sqlrender import split_statements
    return split_statements(render(template, **ctx))


def _sum_slices(parts: list[pa.Table], *cols: str) -> pa.Table:
    """Per (security_code, date) sums of ``cols`` over partial sums (hash halves and counts:
    each half is < 2**32, so uint64 sums are exact below 2**32 rows)."""
    return (pa.concat_tables(parts).group_by(["security_code", "date"])
            .aggregate([(c, "sum") for c in cols])
            .select(["security_code", "date", *(f"{c}_sum" for c in cols)])
            .rename_columns(["security_code", "date", *cols]))


def _prefetched(reader, depth: int = 2):
    """Iterate ``reader`` one batch ahead in a thread: DuckDB turns the sorted rows into the
    next Arrow batch while pyarrow encodes this one (both release the GIL), so the two
    single-threaded phases use both cores. At most ``depth`` + 2 batches are alive."""
    import queue
    import threading
    q: queue.Queue = queue.Queue(depth)
    stop = threading.Event()
    end = object()

    def pump():
        try:
            for b in reader:
                while not stop.is_set():
                    try:
                        q.put(b, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(end)
        except BaseException as exc:          # re-raised in the consumer
            q.put(exc)

    t = threading.Thread(target=pump, name="duckpipe-ingest-fetch", daemon=True)
    t.start()
    try:
        while (item := q.get()) is not end:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        t.join()


def _write_sorted(con, sql: str, tdef: TableDef, out_dir: Path, file_id: str, root: Path,
                  res: Loaded, counted: tuple[str, ...] = ()) -> None:
    """Stream the sorted query into ``out_dir/date=D/<file_id>.parquet`` (temporary names, renamed
    once every date is complete) in ROW_GROUP_SIZE row groups, and sum the slice checksums.

    Rows arrive sorted by date first, so each date's writer is opened once and closed when the
    next date starts: at most one writer and one batch in memory. ``counted``: text columns whose
    lenient bytes are added up in ``res.lenient`` (strict.lenient_accounted).
    """
    sec = tdef.security_col
    data_cols = [n for n, _ in tdef.store_columns()]
    # dictionary pages only where values repeat (codes, flags, short texts): building one for
    # ids, timestamps and sequences is wasted work before the writer falls back to plain.
    dict_cols = [n for n, t in tdef.store_columns() if t in ("INTEGER", "VARCHAR")]
    written: list[tuple[Path, Path, str, int]] = []      # (tmp, final, date, rows)
    partials: list[pa.Table] = []
    writer: pq.ParquetWriter | None = None
    cur: str | None = None
    try:
        try:
            rel = con.sql(sql)
            reader = (rel.to_arrow_reader(ROW_GROUP_SIZE) if hasattr(rel, "to_arrow_reader")   # duckdb >= 1.5
                      else rel.fetch_record_batch(ROW_GROUP_SIZE))
        except duckdb.Error as exc:
            raise QueryError(f"{type(exc).__name__}: {exc}") from exc
        for batch in _prefetched(reader):
            if not batch.num_rows:
                continue
            h = batch.column("_h")
            for col in counted:
                res.lenient += lenient_in(batch.column(col))
            if len(partials) >= 256:                     # bounded whatever the file size
                partials = [_sum_slices(partials, "lo", "hi", "n")]
            partials.append(pa.table({
                "security_code": batch.column(sec), "date": batch.column("date"),
                "lo": pc.bit_wise_and(h, pa.scalar(0xFFFFFFFF, pa.uint64())),
                "hi": pc.shift_right(h, pa.scalar(32, pa.uint64()))})
                .group_by(["security_code", "date"]).aggregate([("lo", "sum"), ("hi", "sum"), ("lo", "count")])
                .select(["security_code", "date", "lo_sum", "hi_sum", "lo_count"])
                .rename_columns(["security_code", "date", "lo", "hi", "n"]))
            dates = batch.column("date")
            if dates[0] == dates[-1]:
                pieces = [(dates[0].as_py(), batch)]
            else:
                pieces = [(d.as_py(), batch.filter(pc.equal(dates, d))) for d in pc.unique(dates)]
            for d, piece in pieces:
                d = str(d)
                if d != cur:
                    if writer is not None:
                        writer.close()
                    cur = d
                    final = out_dir / f"date={d}" / f"{file_id}.parquet"
                    final.parent.mkdir(parents=True, exist_ok=True)
                    tmp = final.with_name(final.name + ".tmp")
                    piece = piece.select(data_cols)
                    writer = pq.ParquetWriter(tmp, piece.schema, compression=COMPRESSION,
                                              use_dictionary=dict_cols)
                    written.append((tmp, final, d, 0))
                else:
                    piece = piece.select(data_cols)
                writer.write_batch(piece, row_group_size=ROW_GROUP_SIZE)
                tmp_, final_, d_, n_ = written[-1]
                written[-1] = (tmp_, final_, d_, n_ + piece.num_rows)
    finally:
        if writer is not None:
            writer.close()
    for tmp, final, d, n in written:
        os.replace(tmp, final)
        res.store.append((store.relative(final, root), d, n))
        res.rows_loaded += n
    if partials:
        total = _sum_slices(partials, "lo", "hi", "n")
        paths = {d: p for p, d, _ in res.store}
        for s_, d, lo, hi, n in zip(*(total.column(c).to_pylist() for c in
                                      ("security_code", "date", "lo", "hi", "n"))):
            d = str(d)
            res.slices.append((s_, d, paths[d], int(n), (int(hi) << 32) + int(lo)))
        res.slices.sort(key=lambda x: (x[1], x[0]))


def _load_reference(con, f: InputFile, out_dir: Path, file_id: str, root: Path, pool) -> Loaded:
    """Small reference file: trimmed names and values, per-column inferred types, one Parquet."""
    res = Loaded()
    final = out_dir / f"{file_id}.parquet"
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(final.name + ".tmp")
    if f.fmt == "parquet":
        res.rows_loaded = res.rows_read = int(
            _sql(con, "ingest/copy_parquet.sql", path=glob_literal(str(f.path)), out=str(tmp)).fetchone()[0])
    else:
        gz = f.fmt == "csv.gz"
        header = read_header(f.path, gz)
        names = _dedupe([n or f"column{i}" for i, n in enumerate(parse_header(header))])
        if not any(parse_header(header)):
            raise InputError(f"{f.path}: empty file, no header line")

        def attempt(path: str, compression: str, _real: Path) -> None:
            _sql(con, "ingest/stage_reference.sql", names=names, path=path, compression=compression,
                 buffer_size=_csv_buffer(con), rejects_table=REJ_T, rejects_scan=REJ_S)
            res.rows_loaded = con.execute("SELECT count(*) FROM _dp_ref").fetchone()[0]

        sc = _read_csv(con, f, gz, len(names), pool, out_dir.parent / ".staging", file_id, attempt,
                       lambda: None)
        _finish_csv(con, f, gz, header, sc, res)
        cs = [f"c{i}" for i in range(len(names))]
        counts = _sql(con, "ingest/infer_reference.sql", cols=cs).fetchone()
        cols = [(c, _qraw(n), _infer(counts[4 * i: 4 * i + 4])) for i, (c, n) in enumerate(zip(cs, names))]
        _sql(con, "ingest/write_reference.sql", cols=cols, out=str(tmp))
    os.replace(tmp, final)
    res.store.append((store.relative(final, root), None, res.rows_loaded))
    return res


def _infer(c: tuple[int, int, int, int]) -> str:
    values, ints, floats, bools = c
    if values and ints == values:
        return "BIGINT"
    if values and floats == values:
        return "DOUBLE"
    if values and bools == values:
        return "BOOLEAN"
    return "VARCHAR"


def _dedupe(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        k = n.lower()
        seen[k] = seen.get(k, 0) + 1
        out.append(n if seen[k] == 1 else f"{n}_{seen[k]}")
    return out


# ---------------------------------------------------------------- commit and bookkeeping

def _commit(con, f: InputFile, st: os.stat_result, fp: str, file_id: str, res: Loaded | None,
            status: str, error: str | None, seconds: float, profile: Profile,
            worker: str | None = None) -> list[str]:
    """The commit point: replace the file's manifest, store files, slices and rejects at once.

    Returns the store files of the previous version, to delete after the commit.
    """
    p = str(f.path)
    old = [r[0] for r in con.execute("SELECT path FROM ingest_files WHERE manifest_path = $p", {"p": p}).fetchall()]
    res = res or Loaded()
    with transaction(con):
        for table, col in (("ingest_files", "manifest_path"), ("ingest_partitions", "manifest_path"),
                           ("ingest_rejects", "path"), ("ingest_manifest", "path")):
            con.execute(f"DELETE FROM {table} WHERE {col} = $p", {"p": p})
        con.execute(
            "INSERT INTO ingest_manifest (path, size, mtime, fingerprint, content_hash, source, table_name,"
            " file_id, format, lines, rows_read, rows_loaded, rows_rejected, blank_lines, status, error,"
            " seconds, ingested_at, worker) VALUES ($path, $size, $mtime, $fp, $crc, $source, $table, $fid,"
            " $fmt, $lines, $read, $loaded, $rejected, $blank, $status, $error, $seconds, now()::TIMESTAMP,"
            " $worker)",
            {"path": p, "size": st.st_size, "mtime": st.st_mtime, "fp": fp, "crc": res.crc,
             "source": f.source, "table": f.table, "fid": file_id, "fmt": f.fmt, "lines": res.lines,
             "read": res.rows_read, "loaded": res.rows_loaded, "rejected": res.rows_rejected,
             "blank": res.blank, "status": status, "error": error, "seconds": seconds, "worker": worker})
        if status == "loaded":
            files = pa.table({"table_name": [f.table] * len(res.store), "path": [s[0] for s in res.store],
                              "date": pa.array([s[1] for s in res.store], pa.string()),
                              "rows": [s[2] for s in res.store], "manifest_path": [p] * len(res.store)})
            con.register("_dp_files", files)
            con.execute("INSERT INTO ingest_files SELECT table_name, path, date::DATE, rows, manifest_path FROM _dp_files")
            con.unregister("_dp_files")
            if res.slices:
                sl = pa.table({"security_code": pa.array([s[0] for s in res.slices], pa.int64()),
                               "date": [s[1] for s in res.slices], "file_path": [s[2] for s in res.slices],
                               "rows": [s[3] for s in res.slices],
                               "hash_sum": [str(s[4]) for s in res.slices]})
                con.register("_dp_slices", sl)
                con.execute("INSERT INTO ingest_partitions SELECT $t, security_code, date::DATE, file_path, $p,"
                            " rows, hash_sum::HUGEINT FROM _dp_slices", {"t": f.table, "p": p})
                con.unregister("_dp_slices")
            if con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = '_dp_rejects'").fetchone()[0]:
                con.execute("INSERT INTO ingest_rejects SELECT $p, line, column_name, reason, raw_line,"
                            " error_type FROM _dp_rejects ORDER BY line NULLS LAST", {"p": p})
        if old:
            store.refresh_catalog_views(con, profile)
    keep = {s[0] for s in res.store}
    return [o for o in old if o not in keep]


def clean_orphans(con: duckdb.DuckDBPyConnection, store_dir: Path) -> int:
    """Delete store files no loaded manifest row owns (left by a kill) and the staging area."""
    shutil.rmtree(store_dir / ".staging", ignore_errors=True)
    ids = {r[0] for r in con.execute(
        "SELECT file_id FROM ingest_manifest WHERE status = 'loaded'").fetchall()}
    removed = 0
    if not store_dir.exists():
        return 0
    for p in sorted(store_dir.rglob("*"), reverse=True):
        if p.is_file() and p.name.split(".", 1)[0] not in ids:
            p.unlink()
            removed += 1
        elif p.is_dir() and not any(p.iterdir()):
            p.rmdir()
    if removed:
        log.info("removed %d orphan store file(s) left by an interrupted ingest", removed)
    return removed


def _unchanged(con, p: str, st: os.stat_result) -> tuple[bool, str, tuple | None]:
    row = con.execute("SELECT size, mtime, fingerprint, status, rows_read, rows_loaded, rows_rejected,"
                      " blank_lines FROM ingest_manifest WHERE path = $p", {"p": p}).fetchone()
    if row and row[3] == "loaded" and row[0] == st.st_size and row[1] == st.st_mtime:
        fp = fingerprint(Path(p), st.st_size)
        return fp == row[2], fp, row
    return False, fingerprint(Path(p), st.st_size), row


def new_file_id(path: str) -> str:
    """Names the store files of one load of ``path`` (a retried load gets a new one)."""
    return f"{hashlib.blake2b(path.encode(), digest_size=6).hexdigest()}{uuid.uuid4().hex[:10]}"


def load_file(con, f: InputFile, tdef: TableDef, store_dir: Path, root: Path, file_id: str, pool,
              stop=None) -> tuple[Loaded | None, str | None]:
    """Process one input file into its store files, not committed (the local ingest and a Dask
    worker both run this): ``(Loaded, None)``, its rejects in ``_dp_rejects``; or ``(None,
    error)`` with nothing of it left in the store. Ctrl-C removes what it wrote and re-raises."""
    p = str(f.path)
    out_dir = store_dir / f.table
    try:
        _drop_rejects(con)
        if tdef.kind == "event":
            res = _load_event(con, f, tdef, out_dir, file_id, root, pool)
        else:
            res = _load_reference(con, f, out_dir, file_id, root, pool)
        if res.crc is None:                  # Parquet: no byte-level pass; the same-content check needs one
            res.crc = file_crc(f.path)
        return res, None
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt) or (stop is not None and stop.is_set()):
            for path in store_dir.rglob(f"{file_id}.*"):     # nothing of it was committed
                path.unlink(missing_ok=True)
            raise KeyboardInterrupt from exc   # whatever the interrupted query raised (issue 12)
        if not isinstance(exc, Exception):
            raise
        if isinstance(exc, (duckdb.Error, QueryError, InputError, OSError, EOFError, zlib.error,
                            gzip.BadGzipFile, pa.ArrowException)):
            error = (exc.message if isinstance(exc, InputError)
                     else f"{p}: {(exc.message if isinstance(exc, QueryError) else f'{type(exc).__name__}: {exc}').splitlines()[0]}")
        else:                              # one file never stops the others
            log.debug("unexpected failure on %s", p, exc_info=True)
            error = (f"{p}: unexpected failure while reading ({type(exc).__name__}:"
                     f" {str(exc).splitlines()[0] if str(exc) else ''})")
    for path in store_dir.rglob(f"{file_id}.*"):
        path.unlink(missing_ok=True)
    return None, error


def commit_file(con, f: InputFile, st: os.stat_result, fp: str, file_id: str, res: Loaded | None,
                error: str | None, seconds: float, profile: Profile, root: Path,
                worker: str | None = None) -> FileResult:
    """Commit one processed file (its rejects in ``_dp_rejects``), delete the store files of its
    previous version, log it."""
    p = str(f.path)
    if res is not None:
        dup = same_content(con, f, st.st_size, res.crc, fp, res.rows_loaded, res.rows_rejected)
        if dup is not None:
            return _commit_same_content(con, f, st, fp, res, dup, profile, root)
    status = "failed" if res is None else "loaded"
    stale = _commit(con, f, st, fp, file_id, res, status, error, seconds, profile, worker)
    for old in stale:
        Path(store.absolute(old, root)).unlink(missing_ok=True)
    r = res or Loaded()
    if status == "failed":
        log.error("%s", error)
    else:
        log.info("%s: %s rows loaded, %s rejected, %s blank lines (%.2fs)%s", p, r.rows_loaded,
                 r.rows_rejected, r.blank, seconds, f" on {worker}" if worker else "")
    return FileResult(p, f.table, status, r.rows_read, r.rows_loaded, r.rows_rejected, r.blank,
                      seconds, error)


def _commit_same_content(con, f: InputFile, st: os.stat_result, fp: str, res: Loaded,
                         dup: tuple[str, bool], profile: Profile, root: Path) -> FileResult:
    """``f`` has the content of the committed input ``dup[0]``: its new store files are deleted
    (never committed, never in a view). The earlier path gone: a rename (the manifest follows
    the new path); still there: a copy, skipped with a warning. A previous version of ``f``
    itself is forgotten either way (its rows are the earlier file's now)."""
    from .verify import forget_inputs
    p, (other, exists) = str(f.path), dup
    for rel, _, _ in res.store:
        Path(store.absolute(rel, root)).unlink(missing_ok=True)
    if con.execute("SELECT count(*) FROM ingest_manifest WHERE path = $p", {"p": p}).fetchone()[0]:
        forget_inputs(con, root, [p], profile)
    if exists:
        log.warning("%s: skipped, same content as %s (already ingested)", p, other)
        return FileResult(p, f.table, "skipped_duplicate", note=f"skipped (same content as {other})")
    with transaction(con):
        run_script(con, "ingest/rename_input.sql", {"old": other, "new": p, "source": f.source,
                                                      "mtime": st.st_mtime, "fp": fp})
        store.refresh_catalog_views(con, profile)
    row = con.execute("SELECT rows_read, rows_loaded, rows_rejected, blank_lines FROM ingest_manifest"
                      " WHERE path = $p", {"p": p}).fetchone()
    log.info("%s: renamed from %s (same content): recorded under the new path, no rows loaded again", p, other)
    return FileResult(p, f.table, "renamed", *row, note=f"skipped (same content as {other}, which is gone: renamed)")


def _ingest_one(con, f: InputFile, settings: Settings, profile: Profile, pool, stop=None) -> FileResult:
    t0 = time.monotonic()
    p = str(f.path)
    st = f.path.stat()
    same, fp, row = _unchanged(con, p, st)
    if same:
        log.info("%s: unchanged, skipped", p)
        return FileResult(p, f.table, "skipped_unchanged", row[4], row[5], row[6], row[7], 0.0)
    file_id = new_file_id(p)
    res, error = load_file(con, f, profile.tables[f.table], settings.store_dir, settings.workspace, file_id,
                           pool, stop)
    return commit_file(con, f, st, fp, file_id, res, error, time.monotonic() - t0, profile, settings.workspace,
                       worker_id())


def worker_id() -> str:
    """Who wrote a file's store files (``ingest_manifest.worker``): this process."""
    import socket
    return f"{socket.gethostname()}:{os.getpid()}"


def ingest(con: duckdb.DuckDBPyConnection, settings: Settings, sources: list[Path],
           table_globs: dict[str, str | list[str]] | None = None,
           progress: Callable[[str, int, int], None] | None = None,
           profile: Profile | None = None, stop=None, elsewhere: Callable | None = None) -> IngestSummary:
    """Load every new or changed file of ``sources`` / ``table_globs`` into the store.

    ``elsewhere``: None loads the files here, one after the other; else a callable
    ``(con, files, summary, watch, progress, stop)`` that loads them on an executor's workers and
    commits each as it completes (``ingest.remote.on_executor``: Dask, one task per file).

    ``progress`` is a callback ``(path, i, n)`` after each file, or a watcher with ``begin``,
    ``file_started`` and ``file_done`` (:class:`duckpipe.engine.live.IngestWatcher`) that follows the
    progress inside each file. ``stop`` (a threading.Event set by the Ctrl-C handler): the file in
    flight is rolled back and :class:`Interrupted` raised; the files committed before stay, a rerun resumes.
    """
    from concurrent.futures import ThreadPoolExecutor
    t0 = time.monotonic()
    profile = profile or settings.profile_def
    if not sources and not table_globs:
        sources = [settings.workspace / "data" / "raw"]
    files, skipped = discover(list(sources), table_globs, profile)
    files = same_files(con, files)
    for s in skipped:
        log.info("skipped (not a table file): %s", s)
    settings.store_dir.mkdir(parents=True, exist_ok=True)
    clean_orphans(con, settings.store_dir)
    from .verify import forget_damaged
    forget_damaged(con, settings.workspace, [str(f.path) for f in files])   # re-read, not skip
    store.refresh_catalog_views(con, profile)
    summary = IngestSummary(skipped_paths=skipped)
    watch = progress if progress is not None and hasattr(progress, "file_started") else None
    if watch:
        watch.begin(con, [f.path for f in files])
    if elsewhere is not None:
        _ingest_elsewhere(elsewhere, con, files, summary, watch, progress, stop)
        threads = settings.threads
    else:
        threads = ingest_threads(memory_limit(con), settings.threads)
    if threads != settings.threads:
        log.info("ingest uses %d thread(s) under memory_limit %s", threads, settings.memory_limit)
        con.execute(f"SET threads = {int(threads)}")
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            for i, f in enumerate(files if elsewhere is None else [], 1):
                if watch:
                    watch.file_started(i, f.path)
                try:
                    if stop is not None and stop.is_set():
                        raise KeyboardInterrupt
                    r = _ingest_one(con, f, settings, profile, pool, stop)
                except BaseException as exc:           # an interrupted query raises many types
                    if not isinstance(exc, KeyboardInterrupt) and not (stop is not None and stop.is_set()):
                        raise
                    done = sum(x.status == "loaded" for x in summary.files)
                    raise Interrupted(f"interrupted: {done} file(s) ingested, {f.path} rolled back."
                                      " Run the same command again to resume.") from None
                summary.files.append(r)
                if r.status == "loaded":
                    summary.bytes_read += f.path.stat().st_size
                if watch:
                    watch.file_done(i, f.path, r.status, r.rows_loaded if r.status == "loaded" else 0)
                elif progress:
                    progress(r.path, i, len(files))
    finally:
        if threads != settings.threads:
            con.execute(f"SET threads = {int(settings.threads)}")
    _drop_rejects(con)
    store.refresh_catalog_views(con, profile)
    summary.rows_loaded = sum(r.rows_loaded for r in summary.files if r.status == "loaded")
    summary.rows_rejected = sum(r.rows_rejected for r in summary.files if r.status == "loaded")
    summary.seconds = time.monotonic() - t0
    summary.peak_rss_bytes = max(summary.peak_rss_bytes, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    log.info("ingest: %d file(s), %d rows loaded, %d rejected, %d failed, %.1fs", len(files),
             summary.rows_loaded, summary.rows_rejected, len(summary.failed), summary.seconds)
    return summary


def _ingest_elsewhere(elsewhere: Callable, con, files: list[InputFile], summary: IngestSummary, watch, progress,
                     stop) -> None:
    """The files on an executor's workers; Ctrl-C cancels the tasks in flight."""
    try:
        elsewhere(con, files, summary, watch, progress, stop)
    except BaseException as exc:           # an interrupted wait raises KeyboardInterrupt
        if not isinstance(exc, KeyboardInterrupt) and not (stop is not None and stop.is_set()):
            raise
        done = sum(x.status == "loaded" for x in summary.files)
        raise Interrupted(f"interrupted: {done} file(s) ingested, the files in flight cancelled."
                          " Run the same command again to resume.") from None


__all__ = ["ingest", "IngestSummary", "FileResult", "discover", "scan_lines", "clean_orphans",
           "fingerprint"]
