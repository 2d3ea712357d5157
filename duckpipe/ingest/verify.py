"""Check the Parquet store against the catalog, and forget what is damaged so ingest re-reads it.

The catalog records, per store file, its rows (``ingest_files``) and, per (security, date)
slice of an event table, the rows and the sum of ``hash(row)`` (``ingest_partitions``). The
check reads those rows from the catalog, then looks at each file on its own in-memory
connection:

- quick: the file is present, its Parquet footer reads, and the footer's row count equals the
  catalog's (metadata only: milliseconds per file);
- full: also reads every row and recomputes the per-security rows and checksums with the
  same hash as ingest (``sql/ingest/slice_checksums.sql``), which catches damaged data pages.

Repair (``duckpipe doctor --repair``) is deliberately small: it forgets the manifest rows of
every input file that owns a damaged store file (manifest, store files, slices, rejects, in
one transaction) and deletes that input's remaining store files. The input then counts as
new, so the next ``duckpipe ingest`` with the same sources re-reads exactly those files.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from .. import catalog, store
from ..db import transaction
from ..profiles import Profile, get_profile
from ..sqlrender import quote_literal, render

log = logging.getLogger(__name__)

FULL_CHECK_MAX_BYTES = 1 << 30      # doctor compares checksums by itself below 1 GiB of store
REPAIR_HINT = "run 'duckpipe doctor --repair', then ingest the same sources again"


@dataclass
class StoreProblem:
    path: str                 # store file as the catalog records it (relative to the workspace)
    input_path: str           # the input file that produced it (ingest_manifest.path)
    problem: str              # one line: missing | unreadable ... | rows ... | checksum ...


@dataclass
class StoreReport:
    files: int = 0
    bytes: int = 0
    full: bool = False
    problems: list[StoreProblem] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems

    @property
    def damaged_inputs(self) -> list[str]:
        return sorted({p.input_path for p in self.problems})


@dataclass
class _Entry:
    table: str
    path: str
    rows: int
    input_path: str
    slices: dict[int, tuple[int, int]] = field(default_factory=dict)   # security -> (rows, hash_sum)


def _catalog_entries(con: duckdb.DuckDBPyConnection) -> list[_Entry]:
    """Every store file the catalog lists, with its slices (a few rows per file)."""
    entries = {p: _Entry(t, p, int(n), m) for t, p, n, m in con.execute(
        "SELECT table_name, path, rows, manifest_path FROM ingest_files ORDER BY path").fetchall()}
    for path, sec, rows, h in con.execute(
            "SELECT file_path, security_code, sum(rows)::BIGINT, sum(hash_sum)::HUGEINT FROM ingest_partitions"
            " GROUP BY ALL").fetchall():
        if path in entries:
            entries[path].slices[int(sec)] = (int(rows), int(h))
    return list(entries.values())


def _checker(memory_limit: str = "256MB", threads: int = 1) -> duckdb.DuckDBPyConnection:
    """A small in-memory connection; it spills nowhere (the per-file aggregates are tiny)."""
    con = duckdb.connect(":memory:")
    con.execute(f"SET memory_limit = {quote_literal(memory_limit)}")
    con.execute(f"SET threads = {int(threads)}")
    return con


def _check_file(con: duckdb.DuckDBPyConnection, e: _Entry, root: Path, full: bool,
                profile: Profile) -> str | None:
    """None if the file matches the catalog, else the one-line problem."""
    path = Path(store.absolute(e.path, root))
    if not path.is_file():
        return "missing"
    try:
        meta = con.execute("SELECT num_rows FROM parquet_file_metadata($p)", {"p": str(path)}).fetchall()
    except duckdb.Error as exc:
        return f"unreadable as Parquet ({store.first_line(exc)})"
    if not meta or int(meta[0][0]) != e.rows:
        return f"has {meta[0][0] if meta else 0} rows, the catalog records {e.rows}"
    if not full:
        return None
    tdef = profile.tables.get(e.table)
    try:
        if tdef is None or tdef.kind != "event":
            con.execute("SELECT count(*), sum(hash(t)) FROM read_parquet($p) t", {"p": str(path)}).fetchall()
            return None
        sql = render("ingest/slice_checksums.sql", path=str(path), security_col=tdef.security_col,
                     hash_cols=[n for n, _ in tdef.store_columns()])
        got = {int(s): (int(n), int(h)) for s, n, h in con.execute(sql).fetchall()}
    except duckdb.Error as exc:
        return f"unreadable as Parquet ({store.first_line(exc)})"
    if got != e.slices:
        bad = sorted(set(got) ^ set(e.slices) | {s for s in set(got) & set(e.slices) if got[s] != e.slices[s]})
        return f"content differs from what ingest wrote (rows or checksum of security {', '.join(map(str, bad[:5]))})"
    return None


def check_store(catalog: duckdb.DuckDBPyConnection, root: Path, *, full: bool | None = None,
                memory_limit: str = "256MB", threads: int = 1,
                profile: Profile | None = None) -> StoreReport:
    """Check every store file the catalog lists. ``full=None``: full when the store is small."""
    profile = profile or get_profile("asx")
    entries = _catalog_entries(catalog)
    total = 0
    for e in entries:
        try:
            total += Path(store.absolute(e.path, root)).stat().st_size
        except OSError:
            pass
    rep = StoreReport(files=len(entries), bytes=total,
                      full=bool(full) if full is not None else total <= FULL_CHECK_MAX_BYTES)
    con = _checker(memory_limit, threads)
    try:
        for e in entries:
            problem = _check_file(con, e, root, rep.full, profile)
            if problem:
                rep.problems.append(StoreProblem(e.path, e.input_path, problem))
    finally:
        con.close()
    for p in rep.problems:
        log.debug("store file %s (from %s): %s", p.path, p.input_path, p.problem)
    return rep


def explain_unit_error(catalog: duckdb.DuckDBPyConnection, tables: Iterable[str], unit, error: str) -> str:
    """A unit's error, replaced by the damaged store file it read, if any, and how to repair."""
    try:
        root = store.workspace_root(catalog)
        files = store.store_files(catalog, tables=list(tables), dates=[unit.date], root=root)
        damaged = store.damaged_among(p for ps in files.values() for p in ps)
    except Exception:   # noqa: BLE001 - an explanation must never hide the original error
        return error
    if not damaged:
        return error
    path, why = damaged[0]
    more = f" (and {len(damaged) - 1} more)" if len(damaged) > 1 else ""
    return (f"store file {store.relative(path, root)} is {why.split(' (', 1)[0]}{more}: see 'duckpipe doctor';"
            f" {REPAIR_HINT}")


def inputs_with_missing_store_files(catalog: duckdb.DuckDBPyConnection, root: Path) -> set[str]:
    """Input files (manifest paths) of which a store file is gone: ingest must not skip them."""
    return {m for p, m in catalog.execute("SELECT path, manifest_path FROM ingest_files").fetchall()
            if not Path(store.absolute(p, root)).is_file()}


@dataclass
class RepairResult:
    forgotten: list[str]                    # input files whose manifest rows were dropped
    sources: list[str]                      # the SOURCE folders to give 'duckpipe ingest'
    missing_inputs: list[str]               # forgotten inputs that no longer exist on disk
    deleted_files: int = 0


def forget_inputs(catalog: duckdb.DuckDBPyConnection, root: Path, inputs: Iterable[str],
                  profile: Profile | None = None) -> RepairResult:
    """Drop the catalog rows of ``inputs`` in one transaction and delete their store files."""
    inputs = sorted(set(inputs))
    if not inputs:
        return RepairResult([], [], [])
    catalog.execute("CREATE OR REPLACE TEMP TABLE _dp_forget AS SELECT unnest($p::VARCHAR[]) AS path", {"p": inputs})
    sources = sorted({r[0] for r in catalog.execute(
        "SELECT DISTINCT source FROM ingest_manifest WHERE path IN (SELECT path FROM _dp_forget)"
        " AND source IS NOT NULL").fetchall()})
    files = [r[0] for r in catalog.execute(
        "SELECT path FROM ingest_files WHERE manifest_path IN (SELECT path FROM _dp_forget)").fetchall()]
    with transaction(catalog):
        for table, col in (("ingest_files", "manifest_path"), ("ingest_partitions", "manifest_path"),
                           ("ingest_rejects", "path"), ("ingest_manifest", "path")):
            catalog.execute(f"DELETE FROM {table} WHERE {col} IN (SELECT path FROM _dp_forget)")
        store.refresh_catalog_views(catalog, profile)
    catalog.execute("DROP TABLE _dp_forget")
    deleted = 0
    for f in files:
        p = Path(store.absolute(f, root))
        if p.exists():
            p.unlink()
            deleted += 1
    log.info("forgot %d input file(s), deleted %d store file(s)", len(inputs), deleted)
    return RepairResult(inputs, sources, [p for p in inputs if not Path(p).exists()], deleted)




# ---------------------------------------------------------------- workspace entry points (doctor)

def check_workspace(settings, full: bool | None = None) -> StoreReport | None:
    """Check the store of a workspace read-only; None when it has no catalog yet."""
    if not settings.db_path.exists():
        return None
    with catalog.open_read_only(settings) as con:
        return check_store(con, settings.workspace, full=full, memory_limit=settings.memory_limit,
                           threads=settings.threads)


def repair_workspace(settings, full: bool | None = None) -> tuple[StoreReport, RepairResult]:
    """Check the store under the workspace lock and forget the inputs of damaged store files."""
    with catalog.open_workspace(settings, "doctor --repair", create=False) as con:
        rep = check_store(con, settings.workspace, full=full, memory_limit=settings.memory_limit,
                          threads=settings.threads)
        return rep, forget_inputs(con, settings.workspace, rep.damaged_inputs)




def print_store_health(rep: StoreReport | None, fixed: RepairResult | None, settings, out) -> bool:
    """Doctor's store lines through ``out``; False when the store is damaged and not repaired."""
    if rep is None:
        return True
    kind = "full: rows and checksums re-read" if rep.full else "quick: present, Parquet footer, row counts; --full re-reads every row"
    if rep.healthy:
        out(f"store: {rep.files} files, {rep.bytes / 2**20:,.1f} MB, all match the catalog ({kind})")
        return True
    out(f"store: {len(rep.problems)} of {rep.files} files damaged ({kind}):")
    for p in rep.problems:
        out(f"  {p.path}: {p.problem} (from input {p.input_path})")
    ws = f" --workspace {settings.workspace}"
    if fixed is None:
        out(f"repair: 'duckpipe doctor --repair{ws}' forgets the {len(rep.damaged_inputs)} input file(s) above,"
            " then 'duckpipe ingest' with the same sources re-reads exactly those")
        return False
    srcs = " ".join(fixed.sources) or "SOURCE"
    out(f"repaired: forgot {len(fixed.forgotten)} input file(s) and deleted their {fixed.deleted_files} store"
        f" file(s); now run: duckpipe ingest {srcs}{ws}")
    for m in fixed.missing_inputs:
        out(f"warning: input {m} no longer exists: its rows stay out of the store until it is restored")
    return True


def forget_damaged(catalog: duckdb.DuckDBPyConnection, root: Path, inputs: Iterable[str]) -> list[str]:
    """Before an ingest: inputs among ``inputs`` whose store files are missing or unreadable
    (quick check) are forgotten, so that this ingest re-reads them instead of skipping them."""
    rep = check_store(catalog, root, full=False)
    wanted = set(inputs)
    redo = [p for p in rep.damaged_inputs if p in wanted]
    for prob in rep.problems:
        if prob.input_path in wanted:
            log.warning("store file %s %s: re-reading %s", prob.path, prob.problem, prob.input_path)
    forget_inputs(catalog, root, redo)
    return redo


__all__ = ["StoreProblem", "StoreReport", "check_store", "explain_unit_error",
           "inputs_with_missing_store_files", "forget_inputs", "RepairResult", "FULL_CHECK_MAX_BYTES",
           "REPAIR_HINT", "check_workspace", "repair_workspace", "print_store_health", "forget_damaged"]
