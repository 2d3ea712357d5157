"""Result tables written as partitions (SPEC §4): Parquet files under ``results/`` and their manifest.

Layout: ``results/<table>/date=YYYY-MM-DD/<batch-uuid>.parquet``: one file per (table, date) per
batch, written under a temporary name and renamed. The executor writes them (it needs no catalog)
and returns metadata only; the engine's commit of a batch swaps its units' rows of
``result_files`` (one per table and unit: which file holds the unit's rows) and adds the files to
``result_parts`` in the same transaction as the checkpoint rows. That commit is the exactly-once
point: a file written by a batch that never committed is named by no manifest row, so it is
invisible, and :func:`collect_garbage` deletes it on the next run.

The result tables are views over the committed files (absolute paths, like the store views, so
any DuckDB client can query them when no command runs). A file all of whose units are live is
read as is; a file some of whose units were recomputed since (their rows now live in a newer
file) is read through a semi-join on the live (file, security, date) triples, so a rerun unit
shows exactly its new rows. :func:`compact` rewrites a date's many small files into one.

Views are rebuilt after a run's batches (not per batch: no reader can open the catalog while a
run holds it) and whenever a writable command finds them built for another manifest digest or
folder (a run killed between a commit and the rebuild): ``result_views_state`` records both.
Files no view and no manifest row names are deleted only after the views are rebuilt.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from . import db
from .sqlrender import quote_ident, quote_literal, render, run_script, templates_digest

log = logging.getLogger(__name__)

RESULTS_DIR = "results"
SELECT_TEMPLATE = "results/select.sql"
# Compaction: a (table, date) with this many files, or with a few files that together stay
# tiny, is rewritten as one file at the end of a run. Packed batches leave a date one to three
# files per table, which are not worth rewriting (measured: compacting every date with two or
# more files under 16 MB cost 17% of the units stage on bench_e2e data); by-unit runs and reruns
# of single units leave many small ones. A rerun of one unit leaves its date two files per table:
# rewriting them at once cost 0.26 s of a 2.7 s rerun (14 tables), so small files wait for a few.
COMPACT_MIN_FILES = 8
COMPACT_SMALL_FILES = 4
COMPACT_SMALL_BYTES = 2**20
_TYPE = re.compile(r"^[A-Z][A-Z0-9_]*(\(\d+(, ?\d+)?\))?(\[\])?$")
_columns_cache: dict[str, dict[str, list[tuple[str, str]]]] = {}


@dataclass
class ResultFile:
    """One Parquet file a batch wrote: its table and date, relative path and per-unit row counts."""

    table: str
    date: dt.date
    path: str                                   # relative to the workspace
    rows: int
    bytes: int
    unit_rows: dict[int, int] = field(default_factory=dict)   # security_code -> rows


# ------------------------------------------------------------------ schema of the result tables

def _valid_type(t: str) -> str:
    if not _TYPE.match(t):
        raise ValueError(f"unexpected column type in a result table: {t!r}")
    return t


def columns_from_ddl(template: str) -> dict[str, list[tuple[str, str]]]:
    """{table: [(column, type)]} of a pipeline's result DDL, run on a scratch in-memory database."""
    if template not in _columns_cache:
        con = duckdb.connect(":memory:")
        try:
            run_script(con, template)
            rows = con.execute("SELECT table_name, column_name, data_type FROM information_schema.columns"
                               " ORDER BY table_name, ordinal_position").fetchall()
        finally:
            con.close()
        out: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for table, col, typ in rows:
            out[table].append((col, _valid_type(typ)))
        _columns_cache[template] = dict(out)
    return _columns_cache[template]


def pipeline_columns(pipe) -> dict[str, list[tuple[str, str]]]:
    cols = columns_from_ddl(pipe.catalog_template) if pipe.catalog_template else {}
    missing = [t for t in pipe.result_tables if t not in cols]
    if missing:
        raise RuntimeError(f"pipeline {pipe.name}: no DDL for result table {missing[0]}")
    return {t: cols[t] for t in pipe.result_tables}


# ------------------------------------------------------------------ executor side: write a batch's files

def write_batch(con: duckdb.DuckDBPyConnection | None, tables: dict, columns: dict[str, list[tuple[str, str]]],
                workspace: str | Path, batch_uuid: str | None = None, threads: int = 1) -> list[ResultFile]:
    """Write each table's rows (Arrow) as one Parquet file per date; return what was written (no catalog).

    Columns are written in the DDL's order (the views cast them to the DDL's types). Each file
    is written as ``.<name>.tmp`` and renamed, so a visible name is always a whole file. pyarrow
    writes them directly (a DuckDB ``COPY`` per small file cost ~4x more per by-unit batch), on
    up to ``threads`` threads: it releases the interpreter while it encodes, and one file at a
    time left the second core idle for ~30% of a batch (1.55 s of 4.2 s on bench_e2e's small input).
    """
    import pyarrow.compute as pc
    batch_uuid = batch_uuid or uuid.uuid4().hex
    root = Path(workspace)
    parts = []
    for table, data in tables.items():
        if data.num_rows == 0:
            continue
        data = data.select([c for c, _ in columns[table]])
        grouped = data.group_by(["date", "security_code"]).aggregate([([], "count_all")])
        per_date: dict[dt.date, dict[int, int]] = defaultdict(dict)
        for d, sec, n in zip(grouped["date"].to_pylist(), grouped["security_code"].to_pylist(),
                             grouped["count_all"].to_pylist()):
            per_date[d][int(sec)] = int(n)
        dates = sorted(per_date)
        parts.extend((table, data, d, per_date[d], len(dates) == 1) for d in dates)

    def write(item) -> ResultFile:
        import pyarrow.parquet as pq
        table, data, d, unit_rows, whole = item
        part = data if whole else data.filter(pc.equal(data["date"], d))   # one copy per thread at a time
        rel = f"{RESULTS_DIR}/{table}/date={d.isoformat()}/{batch_uuid}.parquet"
        final = root / rel
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{final.name}.tmp")
        pq.write_table(part, tmp, compression="zstd")
        os.replace(tmp, final)
        return ResultFile(table, d, rel, part.num_rows, final.stat().st_size, unit_rows)

    if threads <= 1 or len(parts) <= 1:
        return [write(p) for p in parts]
    with ThreadPoolExecutor(max_workers=min(threads, len(parts)), thread_name_prefix="duckpipe-write") as pool:
        return list(pool.map(write, parts))


# ------------------------------------------------------------------ catalog side: manifest, views

def register_tables(con: duckdb.DuckDBPyConnection, pipe) -> None:
    """Record the pipeline's result tables and columns (the views are built from these)."""
    cols = pipeline_columns(pipe)
    have = {t: c for t, c in con.execute("SELECT table_name, columns FROM result_tables").fetchall()}
    for table, c in cols.items():
        text = json.dumps(c)
        if have.get(table) != text:
            con.execute("DELETE FROM result_tables WHERE table_name = $t", {"t": table})
            con.execute("INSERT INTO result_tables VALUES ($t, $p, $c)", {"t": table, "p": pipe.name, "c": text})


def _old_tables(con: duckdb.DuckDBPyConnection, tables: Iterable[str]) -> list[str]:
    rows = con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
                       " AND schema_name = 'main' AND list_contains($t, table_name)",
                       {"t": list(tables)}).fetchall()
    return [r[0] for r in rows]


def ensure(con: duckdb.DuckDBPyConnection, pipe) -> None:
    """Result views of ``pipe`` in place (writable catalog, under the lock): idempotent.

    A catalog from before results were files holds them as tables: they are dropped, and the
    units reset to pending if any rows were there (the next run recomputes them once).
    """
    old = _old_tables(con, pipe.result_tables)
    with db.transaction(con):
        register_tables(con, pipe)
        if old:
            had_rows = any(con.execute(f"SELECT count(*) > 0 FROM {quote_ident(t)}").fetchone()[0] for t in old)
            for t in old:
                con.execute(f"DROP TABLE {quote_ident(t)}")
            if had_rows:
                log.warning("result tables %s were stored in the catalog (an older duckpipe): dropped; their"
                            " units are pending again and the next run writes them as files", ", ".join(old))
                con.execute("UPDATE units SET status = 'pending', signature = NULL WHERE status <> 'pending'")
            con.execute("DELETE FROM result_views_state")
    heal(con)


def manifest_digest(con: duckdb.DuckDBPyConnection) -> str:
    row = con.execute("SELECT count(*), coalesce(string_agg(table_name || '/' || security_code || '/' || date"
                      " || '/' || path, ',' ORDER BY table_name, date, security_code), '') FROM result_files"
                      ).fetchone()
    tables = con.execute("SELECT coalesce(string_agg(table_name || columns, ',' ORDER BY table_name), '')"
                         " FROM result_tables").fetchone()[0]
    view = templates_digest([SELECT_TEMPLATE])          # a new duckpipe's view shape rebuilds them too
    return hashlib.sha256(f"{row[0]}|{row[1]}|{tables}|{view}".encode()).hexdigest()[:32]


def _is_read_only(con: duckdb.DuckDBPyConnection) -> bool:
    rows = con.execute("SELECT readonly FROM duckdb_databases() WHERE database_name = current_database()"
                       ).fetchall()
    return bool(rows and rows[0][0])


def heal(con: duckdb.DuckDBPyConnection, root: Path | None = None) -> bool:
    """Rebuild the views when they were built for another manifest or folder; then collect garbage."""
    try:
        state = con.execute("SELECT root, digest FROM result_views_state").fetchall()
        n_tables = con.execute("SELECT count(*) FROM result_tables").fetchone()[0]
    except duckdb.CatalogException:            # not a duckpipe catalog
        return False
    if not n_tables or _is_read_only(con):
        return False
    from .store import workspace_root
    root = root or workspace_root(con)
    digest = manifest_digest(con)
    if state and state[0] == (str(root), digest):
        return False
    refresh_views(con, root, digest)
    collect_garbage(con, root)
    return True


def view_parts(con: duckdb.DuckDBPyConnection, root: Path, table: str, date: dt.date | None = None
               ) -> tuple[list[str], list[str], list[tuple[str, int, str]]]:
    """(full files, partial files, live triples of the partial files) of ``table`` (one date or all)."""
    rows = con.execute(
        "SELECT f.path, p.units, count(*) AS live, list(f.security_code ORDER BY f.security_code),"
        " list(f.date ORDER BY f.security_code) FROM result_files f JOIN result_parts p USING (path)"
        " WHERE f.table_name = $t AND ($d IS NULL OR f.date = $d) GROUP BY f.path, p.units ORDER BY f.path",
        {"t": table, "d": date}).fetchall()
    full, partial, live = [], [], []
    for path, units, n_live, secs, dates in rows:
        absolute = str(Path(root) / path)
        if n_live >= units:
            full.append(absolute)
        else:
            partial.append(absolute)
            live.extend((absolute, int(s), d.isoformat()) for s, d in zip(secs, dates))
    return full, partial, live


def _columns(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str]]]:
    return {t: [(c, _valid_type(ty)) for c, ty in json.loads(cols)]
            for t, cols in con.execute("SELECT table_name, columns FROM result_tables").fetchall()}


def select_sql(columns: list[tuple[str, str]], full: list[str], partial: list[str], live: list) -> str:
    return render(SELECT_TEMPLATE, columns=columns, full=full, partial=partial, live=live)


def refresh_views(con: duckdb.DuckDBPyConnection, root: Path | None = None, digest: str | None = None) -> None:
    """(Re)create every result view over the committed files, at the workspace's current place."""
    from .store import workspace_root
    root = root or workspace_root(con)
    columns = _columns(con)
    tables = set(_old_tables(con, list(columns)))        # converted by ensure() (run, report), not here
    with db.transaction(con):
        for table, cols in columns.items():
            if table in tables:
                continue
            full, partial, live = view_parts(con, root, table)
            con.execute(f"CREATE OR REPLACE VIEW {quote_ident(table)} AS " + select_sql(cols, full, partial, live))
        con.execute("DELETE FROM result_views_state")
        con.execute("INSERT INTO result_views_state VALUES ($r, $d)",
                    {"r": str(root), "d": digest or manifest_digest(con)})


def collect_garbage(con: duckdb.DuckDBPyConnection, root: Path | None = None) -> int:
    """Delete result files no live manifest row names: superseded parts, and orphans of a kill.

    Call only when the views are current (they never name a superseded file then).
    """
    from .store import workspace_root
    root = Path(root or workspace_root(con))
    with db.transaction(con):
        dead = [p for (p,) in con.execute("SELECT path FROM result_parts p ANTI JOIN result_files f USING (path)"
                                          ).fetchall()]
        if dead:
            con.execute("DELETE FROM result_parts WHERE list_contains($p, path)", {"p": dead})
    keep = {p for (p,) in con.execute("SELECT path FROM result_parts").fetchall()}
    removed = 0
    base = root / RESULTS_DIR
    if not base.exists():
        return 0
    for dirpath, _dirnames, filenames in os.walk(base):
        for fn in filenames:
            full = Path(dirpath) / fn
            rel = full.relative_to(root).as_posix()
            if rel not in keep and (fn.endswith(".parquet") or fn.endswith(".tmp")):
                full.unlink(missing_ok=True)
                removed += 1
    for dirpath, _dirnames, _filenames in os.walk(base, topdown=False):
        if dirpath != str(base) and not os.listdir(dirpath):
            os.rmdir(dirpath)
    if removed:
        log.info("removed %d result files no committed manifest entry names", removed)
    return removed


# ------------------------------------------------------------------ the commit of a batch

def swap(con: duckdb.DuckDBPyConnection, tables: Iterable[str], units: list[tuple[int, dt.date]],
         files: list[ResultFile], run_id: str, batch_id: int) -> None:
    """Inside the batch's transaction: the units' manifest rows now name the batch's files.

    Three statements whatever the batch size, values bound as lists (one ``executemany`` row
    per unit or file cost ~7 ms each, most of a by-unit batch's commit)."""
    con.execute("DELETE FROM result_files f USING (SELECT unnest($s) AS s, unnest($d) AS d) b"
                " WHERE f.security_code = b.s AND f.date = b.d AND list_contains($t, f.table_name)",
                {"s": [s for s, _ in units], "d": [d for _, d in units], "t": list(tables)})
    if not files:
        return
    con.execute("INSERT INTO result_parts SELECT unnest($p), unnest($t), unnest($d), unnest($u), unnest($n),"
                " unnest($b), $r, $batch, now()::TIMESTAMP",
                {"p": [f.path for f in files], "t": [f.table for f in files], "d": [f.date for f in files],
                 "u": [len(f.unit_rows) for f in files], "n": [f.rows for f in files], "b": [f.bytes for f in files],
                 "r": run_id, "batch": batch_id})
    entries = [(f.table, s, f.date, f.path, n) for f in files for s, n in f.unit_rows.items()]
    con.execute("INSERT INTO result_files SELECT unnest($t), unnest($s), unnest($d), unnest($p), unnest($n), $r, $batch",
                {"t": [e[0] for e in entries], "s": [e[1] for e in entries], "d": [e[2] for e in entries],
                 "p": [e[3] for e in entries], "n": [e[4] for e in entries], "r": run_id, "batch": batch_id})


def drop_all(con: duckdb.DuckDBPyConnection) -> None:
    """``--fresh`` (inside the caller's transaction): no result file is committed any more."""
    con.execute("DELETE FROM result_files")


# ------------------------------------------------------------------ compaction

def compact(con: duckdb.DuckDBPyConnection, work: duckdb.DuckDBPyConnection, root: Path | None = None,
            run_id: str | None = None) -> int:
    """Rewrite each (table, date) with many files, or several small ones, as one file; kill-safe.

    ``work`` (an in-memory connection) copies the live rows into a new file; one catalog
    transaction then points the date's manifest rows at it; the replaced files become garbage,
    deleted after the views are rebuilt. Returns the number of (table, date) groups compacted.
    """
    from .store import workspace_root
    root = Path(root or workspace_root(con))
    groups = con.execute(
        "SELECT table_name, date FROM (SELECT DISTINCT f.table_name, f.date, p.path, p.bytes FROM result_files f"
        " JOIN result_parts p USING (path)) GROUP BY ALL"
        " HAVING count(*) >= $n OR (count(*) >= $few AND sum(bytes) < $small) ORDER BY ALL",
        {"n": COMPACT_MIN_FILES, "few": COMPACT_SMALL_FILES, "small": COMPACT_SMALL_BYTES}).fetchall()
    if not groups:
        return 0
    cols = _columns(con)
    copies = []                                     # (table, date, relative path, temp file, COPY statement)
    for table, d in groups:                         # the catalog is read here, in this thread
        full, partial, live = view_parts(con, root, table, d)
        rel = f"{RESULTS_DIR}/{table}/date={d.isoformat()}/{uuid.uuid4().hex}.parquet"
        tmp = (root / rel).with_name(f".{Path(rel).name}.tmp")
        body = select_sql(cols[table], full, partial, live)
        copies.append((table, d, rel, tmp, f"COPY ({body}) TO {quote_literal(str(tmp))}"
                                           " (FORMAT parquet, COMPRESSION zstd)"))
    written = _copy_all(work, root, copies)
    with db.transaction(con):                       # one commit for all groups (a commit each cost ~30 ms)
        for table, d, rel, size in written:
            n_units, n_rows = con.execute("SELECT count(*), sum(rows) FROM result_files WHERE table_name = $t"
                                          " AND date = $d", {"t": table, "d": d}).fetchone()
            con.execute("INSERT INTO result_parts VALUES ($p, $t, $d, $u, $n, $b, $r, NULL, now()::TIMESTAMP)",
                        {"p": rel, "t": table, "d": d, "u": n_units, "n": n_rows, "b": size, "r": run_id})
            con.execute("UPDATE result_files SET path = $p WHERE table_name = $t AND date = $d",
                        {"p": rel, "t": table, "d": d})
    log.info("compacted %d (table, date) groups of result files", len(groups))
    return len(groups)


def _copy_all(work: duckdb.DuckDBPyConnection, root: Path, copies: list) -> list[tuple]:
    """Run the groups' COPY statements on two cursors of ``work`` at once (so under its one
    memory limit), every other group each: one COPY at a time kept ~1.4 of two cores busy (12.7 s
    wall, 17.6 CPU s for the 75 groups of a 240-unit by-unit run). Each file is written under a
    temp name and renamed."""
    def run(cursor: duckdb.DuckDBPyConnection, share: list) -> list[tuple]:
        done = []
        try:
            for table, d, rel, tmp, sql in share:
                cursor.execute(sql)
                final = root / rel
                os.replace(tmp, final)
                done.append((table, d, rel, final.stat().st_size))
        finally:
            cursor.close()
        return done

    shares = [copies[0::2], copies[1::2]]
    with ThreadPoolExecutor(2, thread_name_prefix="duckpipe-compact") as pool:
        return [w for part in pool.map(run, [work.cursor() for _ in shares], shares) for w in part]


__all__ = ["ResultFile", "write_batch", "ensure", "heal", "refresh_views", "collect_garbage", "swap", "drop_all",
           "compact", "pipeline_columns", "RESULTS_DIR"]
