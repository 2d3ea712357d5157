"""Numbers for people: how a result column is shown in the report, decided once by its name.

Prices are in the profile's price units (asx: tenths of a cent, 3340 -> 3.340 in its currency),
values price units x shares, times seconds; ids and codes are never grouped with separators (and
never pass through a float). The currency symbol and price scale come from the input profile:
:func:`money_of` sets them for a report (a context variable, so concurrent reports don't mix).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import jinja2

from ..profiles import Profile, get_profile

MAX_ROWS = 40          # longer tables are cut (the CSV has them all)
DASH = "–"


@dataclass
class Table:
    """A formatted table plus its provenance: the result table it reads and the query that made it.

    ``sql`` is the query as shown (parameters inlined); ``query``, ``shape``, ``columns`` and
    ``data`` are set by :func:`duckpipe.report.provenance.tabulate`: the query that ran, how its
    rows became this table, and those rows.
    """

    title: str
    source: str
    sql: str
    headers: list[str]
    rows: list[list[str]]
    numeric: list[bool]
    highlight: list[bool] = field(default_factory=list)
    note: str = ""
    total: int = 0
    query: Any = None
    shape: Callable[[list[str], list[tuple]], Table] | None = None
    columns: list[str] = field(default_factory=list)
    data: list[tuple] = field(default_factory=list)


# ----------------------------------------------------------------------------- money


@dataclass(frozen=True)
class Money:
    """How money is shown: the currency symbol and the price units per currency unit."""

    symbol: str
    scale: int

    @classmethod
    def of(cls, profile: Profile) -> Money:
        return cls(profile.currency_symbol, profile.price_scale)


_MONEY: ContextVar[Money | None] = ContextVar("duckpipe_report_money", default=None)


def money() -> Money:
    """The money of the report being built (the default profile's outside :func:`money_of`)."""
    return _MONEY.get() or Money.of(get_profile())


@contextmanager
def money_of(profile: Profile) -> Iterator[Money]:
    """Format money with ``profile``'s currency and price scale inside the block."""
    token = _MONEY.set(Money.of(profile))
    try:
        yield _MONEY.get()
    finally:
        _MONEY.reset(token)


# ----------------------------------------------------------------------------- formatting

_ID_COLS = re.compile(r"(^|_)(id|code|hour|run_id|participantid|bucket|label|scope|segment|"
                      r"group|scenario|stage|status|side)$")


def col_kind(col: str) -> str:
    """The display kind of a column, from its name (columns carry their unit, STYLE §7)."""
    c = col.lower()
    if c in ("p_value", "p_adjusted"):
        return "pvalue"
    if c.endswith("_bps") or "_bps_" in c:      # savings_bps_<scenario> of the aggregates
        return "bps"
    if c.endswith("_bytes"):
        return "bytes"
    if c.endswith("_aud"):
        return "aud"
    if c.endswith("_per_s"):
        return "rate"
    if c.endswith("_s"):
        return "seconds"
    if "ratio" in c or c.endswith("_share"):
        return "ratio"
    if c.endswith(("sweeps", "orders", "matches", "_count", "_costed")) or c in ("n", "rows", "units"):
        return "number"
    if "vwap" in c or "price" in c or c.endswith("_mid") or c == "mid":
        return "price"
    if c.endswith("value") or c.endswith("cost") or c.endswith("savings"):
        return "money"
    if _ID_COLS.search(c) or c.startswith("order_id") or c in ("date", "hour", "security"):
        return "id"
    return "number"


_UNIT = {"bps": "bps", "ratio": "%", "seconds": "s", "bytes": "MiB", "rate": "rows/s"}
_MONEY_KINDS = ("price", "money", "aud")     # 'aud': a column already in currency units (*_aud)
_WORDS = {"vwap": "VWAP", "vwte": "VWTE", "ttff": "TTFF", "g1": "G1", "g2": "G2", "g3": "G3",
          "id": "ID", "ci": "CI", "n": "n", "sim": "sim.", "p": "p", "rss": "RSS", "cp": "CP",
          "sd": "SD", "a": "A", "b": "B"}


def col_label(col: str) -> str:
    """A header for people: 'mean_arrival_cost_bps' -> 'Mean arrival cost (bps)'."""
    kind = col_kind(col)
    col = col.replace("_bps_", "_") if kind == "bps" else col
    base = re.sub(r"_(bps|s|bytes|per_s|aud)$", "", col) if kind in ("bps", "seconds", "bytes", "rate", "aud") \
        else col
    words = [_WORDS.get(w, w) for w in base.split("_") if w]
    text = " ".join(words) or col
    text = text[0].upper() + text[1:]
    if kind == "rate":
        return f"{text} per second"
    unit = money().symbol if kind in _MONEY_KINDS else _UNIT.get(kind)
    return f"{text} ({unit})" if unit else text


def fmt(value: Any, kind: str = "number") -> str:
    """Format one value for a reader; NULL is a dash, ints keep every digit (order ids)."""
    if value is None or isinstance(value, jinja2.Undefined) or (isinstance(value, float) and value != value):
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return value
    if kind == "id":
        return str(value)
    if kind in _MONEY_KINDS:     # sign before the currency: -$2.50
        m = money()
        amount = value / m.scale if kind != "aud" else value
        digits = f"{abs(amount):,.{3 if kind == 'price' else 2}f}"
        text = m.symbol + digits
        return "-" + text if amount < 0 and digits.strip("0.,") else text   # ASCII: pastes into sheets
    if kind == "bps":
        return f"{value:,.2f}"
    if kind == "ratio":
        return f"{100 * value:,.2f}"
    if kind == "seconds":
        return f"{value:,.3f}"
    if kind == "bytes":
        return f"{value / 2**20:,.1f}"
    if kind == "rate":
        return f"{value:,.0f}"
    if kind == "pvalue":
        return "<0.0001" if value < 1e-4 else f"{value:.4f}"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.3f}"


def fmt_bytes(n: Any) -> str:
    """1536 -> '1.5 KiB': memory and spill volumes."""
    if n is None:
        return DASH
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.2f} {unit}"
        size /= 1024
    return DASH


def make_table(title: str, source: str, sql: str, cols: Sequence[str], rows: Sequence[Sequence[Any]],
               *, note: str = "", highlight: Callable[[dict], bool] | None = None,
               limit: int | None = None) -> Table:
    """Format query rows by column kind into a Table (cut to ``limit`` rows, total kept)."""
    kinds = [col_kind(c) for c in cols]
    shown = rows[:limit] if limit else rows
    out = [[fmt(v, k) for v, k in zip(r, kinds)] for r in shown]
    numeric = [k not in ("id",) and not all(isinstance(r[i], (str, date)) or r[i] is None for r in shown)
               for i, k in enumerate(kinds)]
    marks = [bool(highlight(dict(zip(cols, r)))) for r in shown] if highlight else []
    if limit and len(rows) > limit:
        note = (note + " " if note else "") + f"Showing {limit} of {len(rows):,} rows."
    return Table(title, source, sql, [col_label(c) for c in cols], out, numeric, marks, note, len(rows))
