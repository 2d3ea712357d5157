"""Input profiles: what the raw tables of one data source look like, and what its codes mean.

A profile declares, per table, the columns with their fixed store types, which are
required, the derived columns (SQL over the canonical names), the sort order and the
security/date keys; and the market's conventions the analysis and the report read from it:
time zone, price scale, currency and the code sets (order type bits, dealsource venue
classes, changereason codes and labels). Ingest, the SQL templates and the report are generic
over it, so a second exchange is one more module (or, in tests, one :func:`register_profile`).

Column names: the store and its views always use the *canonical* names (the asx ones, which
the analysis templates read); a column's ``raw`` name, when given, is the header a source
file uses for it, and ingest maps it to the canonical name.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib import import_module
from typing import NamedTuple

from ..errors import UsageError


@dataclass(frozen=True)
class Column:
    name: str                 # canonical (store and view) name, what the templates read
    type: str                 # DuckDB type in the store
    required: bool = False
    raw: str | None = None    # header of the source files when it differs from ``name``

    @property
    def header(self) -> str:
        """The name a raw file's header uses (matched case-insensitively)."""
        return self.raw or self.name


class Derived(NamedTuple):
    """A store column computed at ingest from the raw ones."""

    name: str
    type: str                 # DuckDB type in the store
    sql: str                  # SQL over canonical names


@dataclass(frozen=True)
class TableDef:
    """One raw table. ``kind`` 'event' = typed, partitioned by date; 'reference' = small, sniffed."""

    name: str
    kind: str = "event"
    columns: tuple[Column, ...] = ()
    required_any: tuple[tuple[str, ...], ...] = ()   # at least one of each group must be present
    derived: tuple[Derived, ...] = ()                # columns computed at ingest
    date_expr: str = ""                              # SQL giving the business date
    sort_by: tuple[str, ...] = ()
    security_col: str = "security_code"

    @property
    def by_lower(self) -> dict[str, Column]:
        """Columns by the lower-cased header of the raw files (the raw name, else the canonical)."""
        return {c.header.lower(): c for c in self.columns}

    def store_columns(self) -> list[tuple[str, str]]:
        """(name, type) of the Parquet store files, without the hive ``date`` column."""
        return [(c.name, c.type) for c in self.columns] + [(d.name, d.type) for d in self.derived]


ORDER_TYPE_BITS = ("centre_point", "cp_crossing", "sweep", "cp_block", "short_sell")
VENUE_CLASSES = ("centre_point", "lit", "auction", "trade_report")
CHANGEREASONS = ("new", "traded", "amended", "trader_cancel", "system_cancel", "end_of_day_purge", "reload")
_LABEL = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class Profile:
    """One data source: its tables and the market conventions the analysis and report read.

    Every code is an int and every label a short identifier-like word, checked here, so the
    templates can render them as literals (they are never user input at run time).
    """

    name: str
    tables: dict[str, TableDef] = field(default_factory=dict)
    time_zone: str = "UTC"            # IANA zone of the market: business dates, local hours
    price_scale: int = 1              # price units per currency unit (asx: 1000, tenths of a cent)
    price_unit: str = "price units"   # what one price unit is called, for the report's footnote
    currency_code: str = ""           # ISO 4217
    currency_symbol: str = ""         # as the report prints money: <symbol>1,234.50
    # exchangeordertype bits by role (ORDER_TYPE_BITS); an order is Centre Point when it
    # carries any of centre_point, cp_crossing, sweep, cp_block; a sweep when it carries sweep
    order_type_bits: dict[str, int] = field(default_factory=dict)
    # trade dealsource codes per venue class (VENUE_CLASSES); trade_report rows carry the same
    # order id on both sides of a match group
    venue_classes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    changereasons: dict[str, int] = field(default_factory=dict)       # role (CHANGEREASONS) -> code
    changereason_labels: dict[int, str] = field(default_factory=dict)  # code -> label in results
    qualifying_dealsources: tuple[int, ...] = ()   # default of the parameter (SPEC §5.3)

    def __post_init__(self) -> None:
        problems = []
        if not _known_zone(self.time_zone):
            problems.append(f"unknown time zone {self.time_zone!r}")
        if not _is_int(self.price_scale) or self.price_scale < 1:
            problems.append(f"price_scale {self.price_scale!r} is not a positive integer")
        for group, names, codes in (
                ("order_type_bits", ORDER_TYPE_BITS, {k: (v,) for k, v in self.order_type_bits.items()}),
                ("venue_classes", VENUE_CLASSES, self.venue_classes),
                ("changereasons", CHANGEREASONS, {k: (v,) for k, v in self.changereasons.items()}),
                ("changereason_labels", (), {"codes": tuple(self.changereason_labels)}),
                ("qualifying_dealsources", (), {"codes": self.qualifying_dealsources})):
            missing = [n for n in names if n not in codes]
            unknown = [n for n in codes if names and n not in names]
            bad = [c for cs in codes.values() for c in cs if not _is_int(c)]
            if missing or unknown or bad:
                problems.append(f"{group}: missing {missing}, unknown {unknown}, not integers {bad}")
        if any(v <= 0 or v & (v - 1) for v in self.order_type_bits.values() if _is_int(v)):
            problems.append("order_type_bits must be single bits")
        bad_labels = [v for v in self.changereason_labels.values() if not _LABEL.match(str(v))]
        if bad_labels:
            problems.append(f"changereason labels must be lower-case words: {bad_labels}")
        if problems:
            raise ValueError(f"profile {self.name!r}: " + "; ".join(problems))

    def event_tables(self) -> list[str]:
        return [n for n, t in self.tables.items() if t.kind == "event"]

    def reference_tables(self) -> list[str]:
        return [n for n, t in self.tables.items() if t.kind == "reference"]

    @property
    def centre_point_mask(self) -> int:
        """exchangeordertype bits of which any makes an order a Centre Point order (SPEC §5.1)."""
        b = self.order_type_bits
        return b["centre_point"] | b["cp_crossing"] | b["sweep"] | b["cp_block"]

    @property
    def time_zone_label(self) -> str:
        """A short name for people: 'Australia/Sydney' -> 'Sydney'."""
        return self.time_zone.rsplit("/", 1)[-1].replace("_", " ")

    def sql_context(self) -> dict:
        """What the SQL templates read from the profile (Jinja context: validated ints and labels)."""
        return {"tz": self.time_zone, "price_scale": self.price_scale, "bits": dict(self.order_type_bits),
                "cp_mask": self.centre_point_mask, "venues": {k: list(v) for k, v in self.venue_classes.items()},
                "cr": dict(self.changereasons), "cr_labels": dict(self.changereason_labels)}

    def fingerprint(self) -> str:
        """A stable hash of everything in the profile: unit signatures change with it (SPEC §4)."""
        text = json.dumps(asdict(self), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _known_zone(tz: str) -> bool:
    try:
        from zoneinfo import ZoneInfo
        ZoneInfo(tz)
    except Exception:       # ZoneInfoNotFoundError, ValueError (malformed key)
        return False
    return bool(re.fullmatch(r"[A-Za-z0-9_+\-/]+", tz))


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
    lo = int(dt.datetime(y0, 1, 1, tzinfo=dt.UTC).timestamp()) * 10**9
    hi = int(dt.datetime(y1 + 1, 1, 1, tzinfo=dt.UTC).timestamp()) * 10**9
    t1, t2, a, b, c = ("[" + ", ".join(map(str, xs)) + "]" for xs in zip(*table))
    i = f"({col} // {YEAR_NS} - {y0 - 1970 - 1})::BIGINT"
    off = (f"CASE WHEN {col} < {t1}[{i}] THEN {a}[{i}] WHEN {col} < {t2}[{i}] THEN {b}[{i}]"
           f" ELSE {c}[{i}] END")
    return (f"(CASE WHEN {col} >= {lo} AND {col} < {hi}"
            f" THEN DATE '1970-01-01' + (({col} + {off}) // {DAY_NS})::INTEGER ELSE {icu} END)")


@cache
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
        edges = [int(dt.datetime(y, m, 1, tzinfo=dt.UTC).timestamp()) for m in (1, 7)]
        edges.append(int(dt.datetime(y + 1, 1, 1, tzinfo=dt.UTC).timestamp()))
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


DEFAULT_PROFILE = "asx"
_REGISTERED: dict[str, Profile] = {}


def register_profile(profile: Profile) -> None:
    """Make ``profile`` known by its name without a module (tests, notebooks); replaces an earlier one."""
    _REGISTERED[profile.name] = profile


def unregister_profile(name: str) -> None:
    _REGISTERED.pop(name, None)


def get_profile(name: str = DEFAULT_PROFILE) -> Profile:
    """The profile called ``name``: a registered one, else module ``duckpipe.profiles.<name>``'s PROFILE."""
    if name in _REGISTERED:
        return _REGISTERED[name]
    if not name.isidentifier():
        raise UsageError(f"unknown input profile {name!r}")
    try:
        return import_module(f"{__name__}.{name}").PROFILE
    except ModuleNotFoundError:
        known = ", ".join(sorted({DEFAULT_PROFILE, *_REGISTERED}))
        raise UsageError(f"unknown input profile {name!r} (known: {known})") from None


__all__ = ["Column", "TableDef", "Profile", "get_profile", "register_profile", "unregister_profile",
           "local_date_sql", "DEFAULT_PROFILE", "ORDER_TYPE_BITS", "VENUE_CLASSES", "CHANGEREASONS"]
