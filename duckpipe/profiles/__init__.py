"""Input profiles: what the raw tables of one data source look like.

A profile declares, per table, the columns with their fixed store types, which are
required, the derived columns (SQL over the canonical names), the sort order and the
security/date keys. Ingest is generic over it, so a second exchange is one more module.
"""
from __future__ import annotations

from dataclasses import dataclass, field
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

    def event_tables(self) -> list[str]:
        return [n for n, t in self.tables.items() if t.kind == "event"]

    def reference_tables(self) -> list[str]:
        return [n for n, t in self.tables.items() if t.kind == "reference"]


def get_profile(name: str = "asx") -> Profile:
    """The profile called ``name`` (module ``duckpipe.profiles.<name>`` exposing PROFILE)."""
    if not name.isidentifier():
        raise UsageError(f"unknown input profile {name!r}")
    try:
        return import_module(f"{__name__}.{name}").PROFILE
    except ModuleNotFoundError:
        raise UsageError(f"unknown input profile {name!r} (known: asx)") from None


__all__ = ["Column", "TableDef", "Profile", "get_profile"]
