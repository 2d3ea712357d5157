"""Input profiles: what the raw tables of one data source look like.

A profile declares, per table, the columns with their fixed store types, which are
required, the derived columns (SQL over the canonical names), the sort order and the
security/date keys. Ingest is generic over it, so a second exchange is one more module.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import import_module

from ..errors import UsageError


@dataclass(frozen=True)
class Column:
    name: str                 # canonical (store) name; raw headers match it case-insensitively
    type: str                 # DuckDB type in the store
    required: bool = False


@dataclass(frozen=True)
class TableDef:
    """One raw table. ``kind`` 'event' = typed, partitioned by date; 'reference' = small, sniffed."""

    name: str
    kind: str = "event"
    columns: tuple[Column, ...] = ()
    required_any: tuple[tuple[str, ...], ...] = ()   # at least one of each group must be present
    derived: tuple[tuple[str, str, str], ...] = ()   # (name, type, SQL over canonical names)
    date_expr: str = ""                              # SQL giving the business date
    sort_by: tuple[str, ...] = ()
    security_col: str = "security_code"

    @property
    def by_lower(self) -> dict[str, Column]:
        return {c.name.lower(): c for c in self.columns}

    def store_columns(self) -> list[tuple[str, str]]:
        """(name, type) of the Parquet store files, without the hive ``date`` column."""
        return [(c.name, c.type) for c in self.columns] + [(n, t) for n, t, _ in self.derived]


@dataclass(frozen=True)
class Profile:
    name: str
    tables: dict[str, TableDef] = field(default_factory=dict)
    # trade venue class -> the trade-file codes (dealsource) that belong to it; unlisted: 'other'
    venue_classes: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def event_tables(self) -> list[str]:
        return [n for n, t in self.tables.items() if t.kind == "event"]

    def reference_tables(self) -> list[str]:
        return [n for n, t in self.tables.items() if t.kind == "reference"]


DAY_NS = 86_400 * 10**9
YEAR_NS = 31_556_952 * 10**9          # mean Gregorian year: the year index is off by < 2 days


def local_date_sql(col: str, tz: str, y0: int = 1990, y1: int = 2069) -> str:
    """SQL for the ``tz`` calendar date of ``col`` (int64 ns since the epoch, UTC), without ICU per row.

    DuckDB's ``make_timestamptz(..) AT TIME ZONE tz`` costs about as much as parsing the row;
    this is integer arithmetic on the UTC offset looked up per year (at most two transitions
    a year, taken from the system tz database). Outside [y0, y1], or when the zone does not
    fit that pattern, it is the ICU expression itself. ``col`` must be a quoted identifier.
    """
    icu = f"(make_timestamptz({col} // 1000) AT TIME ZONE '{tz}')::DATE"
    table = _offsets(tz, y0, y1)
    if table is None:
        return icu
    lo = int(dt.datetime(y0, 1, 1, tzinfo=dt.timezone.utc).timestamp()) * 10**9
    hi = int(dt.datetime(y1 + 1, 1, 1, tzinfo=dt.timezone.utc).timestamp()) * 10**9
    t1, t2, a, b, c = ("[" + ", ".join(map(str, xs)) + "]" for xs in zip(*table))
    i = f"({col} // {YEAR_NS} - {y0 - 1970 - 1})::BIGINT"
    off = (f"CASE WHEN {col} < {t1}[{i}] THEN {a}[{i}] WHEN {col} < {t2}[{i}] THEN {b}[{i}]"
           f" ELSE {c}[{i}] END")
    return (f"(CASE WHEN {col} >= {lo} AND {col} < {hi}"
            f" THEN DATE '1970-01-01' + (({col} + {off}) // {DAY_NS})::INTEGER ELSE {icu} END)")


@lru_cache(maxsize=None)
def _offsets(tz: str, y0: int, y1: int) -> tuple | None:
    """Per year (first transition, second transition, offset before, between, after) in ns;
    None when the tz database is missing or a transition lies within 3 days of a new year
    (where the approximate year index could pick the wrong year)."""
    try:
        from zoneinfo import ZoneInfo
        zone = ZoneInfo(tz)
    except Exception:       # no tz database: ZoneInfoNotFoundError, ValueError, ImportError
        return None
    never = 2**62

    def off(sec: int) -> int:
        return int(dt.datetime.fromtimestamp(sec, zone).utcoffset().total_seconds())

    rows = []
    for y in range(y0, y1 + 1):
        edges = [int(dt.datetime(y, m, 1, tzinfo=dt.timezone.utc).timestamp()) for m in (1, 7)]
        edges.append(int(dt.datetime(y + 1, 1, 1, tzinfo=dt.timezone.utc).timestamp()))
        found = []
        for lo, hi in zip(edges, edges[1:]):
            if off(lo) == off(hi):
                continue
            while hi - lo > 1:                       # bisect the one change in this half year
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if off(mid) == off(lo) else (lo, mid)
            if hi - edges[0] < 3 * 86400 or edges[2] - hi < 3 * 86400:
                return None
            found.append(hi)
        if len(found) == 2 and off(edges[0]) != off(edges[2] - 1):
            return None
        t = found + [never] * (2 - len(found))
        before = off(edges[0])
        between = off(t[0]) if found else before
        after = off(t[1]) if len(found) == 2 else between
        rows.append((t[0] * 10**9 if t[0] != never else never, t[1] * 10**9 if t[1] != never else never,
                     before * 10**9, between * 10**9, after * 10**9))
    return tuple(rows)


def get_profile(name: str = "asx") -> Profile:
    """The profile called ``name`` (module ``duckpipe.profiles.<name>`` exposing PROFILE)."""
    if not name.isidentifier():
        raise UsageError(f"unknown input profile {name!r}")
    try:
        return import_module(f"{__name__}.{name}").PROFILE
    except ModuleNotFoundError:
        raise UsageError(f"unknown input profile {name!r} (known: asx)") from None


__all__ = ["Column", "TableDef", "Profile", "get_profile", "local_date_sql"]
