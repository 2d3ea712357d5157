"""Units (security, business date), selection filters, signatures and checkpoint states.

A unit's signature hashes the per-(table, security, date) checksums of the data it reads,
the text of every SQL template it runs, and the analysis parameters (SPEC §4). A done unit
whose signature no longer matches is *stale*. A ``running`` row can only be seen by a
process that holds the workspace lock, so it was left by a dead process: it counts as failed.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import duckdb

from ..errors import UsageError

STATUSES = ("pending", "running", "done", "failed", "stale")


@dataclass(frozen=True)
class Unit:
    security_code: int
    date: dt.date

    @property
    def key(self) -> tuple[int, dt.date]:
        return (self.security_code, self.date)

    def __str__(self) -> str:
        return f"{self.security_code}/{self.date.isoformat()}"


@dataclass
class UnitRow:
    """One line of ``duckpipe units``: the unit, its 1-based position and checkpoint state."""

    position: int
    unit: Unit
    status: str
    attempts: int = 0
    duration_s: float | None = None
    rows: int | None = None
    error: str | None = None
    signature: str | None = None
    stored_signature: str | None = None


@dataclass(frozen=True)
class Selection:
    """Parsed selection filters (SPEC §1); empty fields select everything."""

    securities: tuple[int, ...] = ()
    date_ranges: tuple[tuple[dt.date, dt.date], ...] = ()
    positions: tuple[tuple[int, int], ...] = ()
    statuses: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return not (self.securities or self.date_ranges or self.positions or self.statuses)


# ------------------------------------------------------------------ filter parsing

def parse_securities(text: str | None) -> tuple[int, ...]:
    if not text:
        return ()
    out = []
    for part in text.split(","):
        part = part.strip()
        if not re.fullmatch(r"\d{1,10}", part):
            raise UsageError(f"--securities: {part!r} is not a security code (expected digits, e.g. 110621,85603)")
        out.append(int(part))
    return tuple(out)


def _parse_date(text: str, option: str) -> dt.date:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise UsageError(f"{option}: {text!r} is not a date YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option}: {text!r} is not a valid date") from None


def parse_dates(text: str | None) -> tuple[tuple[dt.date, dt.date], ...]:
    """``2024-09-02..2024-09-06,2024-09-10`` -> inclusive ranges."""
    if not text:
        return ()
    out = []
    for part in text.split(","):
        part = part.strip()
        lo, sep, hi = part.partition("..")
        a = _parse_date(lo.strip(), "--dates")
        b = _parse_date(hi.strip(), "--dates") if sep else a
        if b < a:
            raise UsageError(f"--dates: range {part!r} ends before it starts")
        out.append((a, b))
    return tuple(out)


def parse_positions(text: str | None) -> tuple[tuple[int, int], ...]:
    """``1-10,15`` -> inclusive 1-based ranges."""
    if not text:
        return ()
    out = []
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise UsageError(f"--units: {part!r} is not a position or range like 1-10,15")
        a, b = int(m.group(1)), int(m.group(2) or m.group(1))
        if a < 1 or b < a:
            raise UsageError(f"--units: range {part!r} must be 1-based and increasing")
        out.append((a, b))
    return tuple(out)


def parse_statuses(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    out = tuple(s.strip() for s in text.split(","))
    bad = [s for s in out if s not in STATUSES]
    if bad:
        raise UsageError(f"--status: {bad[0]!r} is not one of {'|'.join(STATUSES)}")
    return out


def parse_selection(securities: str | None = None, dates: str | None = None,
                    units: str | None = None, status: str | None = None) -> Selection:
    return Selection(parse_securities(securities), parse_dates(dates),
                     parse_positions(units), parse_statuses(status))


def format_positions(ranges: Iterable[tuple[int, int]]) -> str:
    """Inverse of :func:`parse_positions` (used by round-trip tests and messages)."""
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges)


def format_dates(ranges: Iterable[tuple[dt.date, dt.date]]) -> str:
    return ",".join(a.isoformat() if a == b else f"{a.isoformat()}..{b.isoformat()}" for a, b in ranges)


# ------------------------------------------------------------------ discovery and status

def discover(con: duckdb.DuckDBPyConnection) -> list[Unit]:
    """Every (security, date) present in the orders store, in (date, security) order."""
    rows = con.execute(
        "SELECT DISTINCT security_code, date FROM store_partitions"
        " WHERE table_name = 'orders' ORDER BY date, security_code").fetchall()
    return [Unit(int(s), d) for s, d in rows]


def sync_units(con: duckdb.DuckDBPyConnection, units: list[Unit]) -> None:
    """Insert a pending checkpoint row for every unit not yet known (bookkeeping): one statement,
    the keys bound as lists (``executemany`` costs ~0.4 ms a row: 0.4 s per command at 1,000 units)."""
    if not units:
        return
    con.execute("INSERT INTO units (security_code, date) SELECT d.s, d.d"
                " FROM (SELECT unnest($s::INTEGER[]) AS s, unnest($d::DATE[]) AS d) d"
                " ANTI JOIN units u ON u.security_code = d.s AND u.date = d.d",
                {"s": [u.security_code for u in units], "d": [u.date for u in units]})


def partition_checksums(con: duckdb.DuckDBPyConnection, tables: Iterable[str]) -> dict[tuple[int, dt.date], str]:
    """{(security, date): 'table:checksum|...'} over the tables a pipeline reads."""
    names = sorted(set(tables))
    rows = con.execute(
        "SELECT security_code, date, string_agg(table_name || ':' || checksum, '|' ORDER BY table_name)"
        " FROM store_partitions WHERE list_contains($t, table_name) GROUP BY ALL",
        {"t": names}).fetchall()
    return {(int(s), d): c for s, d, c in rows}


def signature(data_checksum: str | None, templates_digest: str, params: dict[str, Any],
              scenarios: list[dict[str, Any]]) -> str:
    h = hashlib.sha256()
    for part in (data_checksum or "", templates_digest,
                 json.dumps(params, sort_keys=True, default=str),
                 json.dumps(scenarios, sort_keys=True, default=str)):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:32]


def list_units(con: duckdb.DuckDBPyConnection, signatures: dict[tuple[int, dt.date], str]) -> list[UnitRow]:
    """All known units with positions and effective status (done + changed signature = stale)."""
    rows = con.execute(
        "SELECT security_code, date, status, attempts, duration_s, rows, error, signature"
        " FROM units ORDER BY date, security_code").fetchall()
    out = []
    for i, (sec, d, status, attempts, dur, nrows, err, sig) in enumerate(rows, 1):
        unit = Unit(int(sec), d)
        current = signatures.get(unit.key)
        if status == "done" and sig != current:
            status = "stale"
        out.append(UnitRow(i, unit, status, attempts, dur, nrows, err, current, sig))
    return out


def select(rows: list[UnitRow], sel: Selection, known_securities: set[int] | None = None) -> list[UnitRow]:
    """Apply the filters; unknown securities and positions past the end are usage errors."""
    known = known_securities if known_securities is not None else {r.unit.security_code for r in rows}
    unknown = [s for s in sel.securities if s not in known]
    if unknown:
        raise UsageError(f"--securities: unknown security {unknown[0]} (not in the store;"
                         f" known: {', '.join(map(str, sorted(known)[:10]))}{' ...' if len(known) > 10 else ''})")
    for _a, b in sel.positions:
        if b > len(rows):
            raise UsageError(f"--units: position {b} is past the last unit ({len(rows)} units)")
    out = []
    for r in rows:
        if sel.securities and r.unit.security_code not in sel.securities:
            continue
        if sel.date_ranges and not any(a <= r.unit.date <= b for a, b in sel.date_ranges):
            continue
        if sel.positions and not any(a <= r.position <= b for a, b in sel.positions):
            continue
        if sel.statuses and r.status not in sel.statuses:
            continue
        out.append(r)
    return out


def current_rows(con: duckdb.DuckDBPyConnection, tables_read: Iterable[str], templates_digest: str,
                 params: dict[str, Any], scenarios: list[dict[str, Any]], *, write: bool
                 ) -> tuple[list[UnitRow], dict[tuple[int, dt.date], str]]:
    """Every unit of the store with its effective status and current signature.

    With ``write`` (under the workspace lock) new units get checkpoint rows and dead
    ``running`` rows become failed; read-only, units not yet synced show as pending.
    """
    discovered = discover(con)
    if write:
        sync_units(con, discovered)
        mark_dead_running_failed(con)
    checksums = partition_checksums(con, tables_read)
    sigs = {u.key: signature(checksums.get(u.key), templates_digest, params, scenarios) for u in discovered}
    rows = list_units(con, sigs)
    known = {r.unit.key for r in rows}
    extra = [UnitRow(0, u, "pending", signature=sigs[u.key]) for u in discovered if u.key not in known]
    if extra:
        rows = sorted(rows + extra, key=lambda r: (r.unit.date, r.unit.security_code))
        for i, r in enumerate(rows, 1):
            r.position = i
    return rows, sigs


def mark_dead_running_failed(con: duckdb.DuckDBPyConnection) -> int:
    """``running`` rows seen under our lock were left by a dead process: mark them failed."""
    n = con.execute("SELECT count(*) FROM units WHERE status = 'running'").fetchone()[0]
    if n:
        con.execute("UPDATE units SET status = 'failed', error = 'process died while the unit was running'"
                    " WHERE status = 'running'")
    return int(n)


# ------------------------------------------------------------------ checkpoint writes (this module owns `units`)

def mark_running(con: duckdb.DuckDBPyConnection, run_id: str, units: list[Unit]) -> None:
    """Evidence for the next start: units left ``running`` by a dead process count as failed."""
    if units:
        con.execute("UPDATE units SET status = 'running', started_at = now()::TIMESTAMP, run_id = $r"
                    " FROM (SELECT unnest($s) AS s, unnest($d) AS d) b WHERE security_code = b.s AND date = b.d",
                    {"r": run_id, "s": [u.security_code for u in units], "d": [u.date for u in units]})


def mark_done(con: duckdb.DuckDBPyConnection, run_id: str, batch_id: int, units: list[Unit],
              signatures: dict, seconds_per_unit: float, rows_per_unit: dict, worker: str | None = None) -> None:
    """Checkpoint rows of a committed batch (the caller holds the batch's transaction).

    One statement per batch, values bound as lists (a row per unit of ``executemany`` cost
    several ms each)."""
    if not units:
        return
    con.execute(
        "UPDATE units SET status = 'done', attempts = attempts + 1, signature = b.sig, finished_at = now()::TIMESTAMP,"
        " duration_s = $secs, rows = b.n, error = NULL, run_id = $r, batch_id = $batch, worker = $w"
        " FROM (SELECT unnest($s) AS s, unnest($d) AS d, unnest($sig) AS sig, unnest($n) AS n) b"
        " WHERE security_code = b.s AND date = b.d",
        {"secs": seconds_per_unit, "r": run_id, "batch": batch_id, "w": worker,
         "s": [u.security_code for u in units], "d": [u.date for u in units],
         "sig": [signatures.get(u.key) for u in units], "n": [int(rows_per_unit.get(u.key, 0)) for u in units]})


def mark_failed(con: duckdb.DuckDBPyConnection, run_id: str, unit: Unit, error: str) -> None:
    con.execute("UPDATE units SET status = 'failed', attempts = attempts + 1, finished_at = now()::TIMESTAMP,"
                " error = $e, run_id = $r WHERE security_code = $s AND date = $d",
                {"e": error[:2000], "r": run_id, "s": unit.security_code, "d": unit.date})


def reset_running(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """After Ctrl-C: the batch in flight was rolled back, so its units are pending again."""
    con.execute("UPDATE units SET status = 'pending' WHERE status = 'running' AND run_id = $r", {"r": run_id})


def reset_all(con: duckdb.DuckDBPyConnection) -> None:
    """``--fresh``: every unit pending again (the caller drops the results in the same transaction)."""
    con.execute("UPDATE units SET status = 'pending', signature = NULL, error = NULL, attempts = 0,"
                " started_at = NULL, finished_at = NULL, duration_s = NULL, rows = NULL, run_id = NULL,"
                " worker = NULL")
