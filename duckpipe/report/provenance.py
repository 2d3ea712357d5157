"""Provenance that is true: every report table is made from one query, and shows that query.

A :class:`Query` is a rendered ``sql/report`` template plus its bound parameters. :func:`tabulate`
is the one place a report table is made: it runs the query, formats the rows into a
:class:`~duckpipe.report.formatting.Table` and records the query on it, so what a table shows and
where it says it came from cannot drift apart.

The SQL shown under a table (``Table.sql``, :meth:`Query.shown`) is the statement that ran, with
its parameters inlined as validated literals. The report's scope (the done units, optionally only
those of a ``--securities`` / ``--dates`` selection) is part of every scoped query as the CTE
``report_units`` (``sql/report/_scope.sql``), written with literals too, so a reader can paste the
shown SQL into ``duckdb duckpipe.duckdb`` and get the table's rows back.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import duckdb

from ..db import execute, quote_literal
from ..sqlrender import render, split_statements
from .formatting import Table, make_table

_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")     # the names db.execute binds ($a is not $ab)

Scope = list[dict[str, list]] | None
Shape = Callable[[list[str], list[tuple]], Table]


def literal(value: Any) -> str:
    """A parameter value as a SQL literal: dates and timestamps typed, the rest by quote_literal."""
    if isinstance(value, datetime):
        return f"TIMESTAMP {quote_literal(value.isoformat(sep=' '))}"
    if isinstance(value, date):
        return f"DATE {quote_literal(value.isoformat())}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    return quote_literal(value)


def _strip_header(sql: str) -> str:
    """Drop the template's leading comment lines (its header for developers, not the query)."""
    lines = sql.strip().splitlines()
    while lines and (not lines[0].strip() or lines[0].lstrip().startswith("--")):
        lines.pop(0)
    return "\n".join(lines)


@dataclass(frozen=True)
class Query:
    """One statement of the report and the parameters it is bound with."""

    sql: str
    params: Mapping[str, Any] = field(default_factory=dict)
    template: str = ""

    def bound(self) -> dict[str, Any]:
        """The parameters the statement names (and only those)."""
        names = set(_PARAM.findall(self.sql))
        missing = names - set(self.params)
        if missing:
            raise ValueError(f"{self.template or 'query'}: no value for ${', $'.join(sorted(missing))}")
        return {k: v for k, v in self.params.items() if k in names}

    def shown(self) -> str:
        """The statement with its parameters inlined as literals: what a reader can rerun."""
        bound = self.bound()
        return _PARAM.sub(lambda m: literal(bound[m.group(1)]), self.sql) + ";"

    def run(self, con: duckdb.DuckDBPyConnection) -> tuple[list[str], list[tuple]]:
        """Execute with bound parameters; (column names, rows)."""
        cur = execute(con, self.sql, self.bound(), template=self.template)
        return [d[0] for d in cur.description], cur.fetchall()


def report_query(name: str, scope: Scope = None, params: Mapping[str, Any] | None = None,
                 **ctx: Any) -> Query:
    """Render ``sql/report/<name>.sql`` (one statement) with the report's scope and ``ctx``."""
    template = f"report/{name}.sql"
    stmts = split_statements(render(template, scope=scope, **ctx))
    if len(stmts) != 1:
        raise ValueError(f"{template}: a report query is one statement, got {len(stmts)}")
    return Query(_strip_header(stmts[0]), dict(params or {}), template)


def scope_groups(units: Sequence[tuple[int, date]] | None) -> Scope:
    """A units selection as groups {dates, codes} whose cross products are exactly the selection.

    Dates selecting the same securities share a group, so a selection of S securities x D dates is
    one ``date IN (...) AND security_code IN (...)`` clause however many units it has. ``None``
    (no selection) stays None; an empty selection is [] (selects nothing).
    """
    if units is None:
        return None
    by_date: dict[date, set[int]] = {}
    for code, day in units:
        if isinstance(code, bool) or not isinstance(code, int) or not isinstance(day, date):
            raise ValueError(f"not a (security code, date) unit: {(code, day)!r}")
        by_date.setdefault(day, set()).add(code)
    groups: dict[tuple[int, ...], list[date]] = {}
    for day, codes in sorted(by_date.items()):
        groups.setdefault(tuple(sorted(codes)), []).append(day)
    return [{"dates": days, "codes": list(codes)} for codes, days in groups.items()]


def tabulate(con: duckdb.DuckDBPyConnection, query: Query, title: str, source: str, *,
             shape: Shape | None = None, note: str = "", highlight: Callable[[dict], bool] | None = None,
             limit: int | None = None) -> Table:
    """Run ``query`` and make the report table from its rows, recording the query it came from.

    ``shape`` turns (columns, rows) into the Table (default: one column per result column,
    formatted by name, see :func:`make_table`); it is kept on the table so that a check can
    shape a rerun of the shown SQL and compare.
    """
    shown = query.shown()
    if shape is None:
        def shape(cols: list[str], rows: list[tuple]) -> Table:
            return make_table(title, source, shown, cols, rows, note=note, highlight=highlight, limit=limit)
    cols, rows = query.run(con)
    table = shape(cols, rows)
    table.sql, table.query, table.shape, table.columns, table.data = shown, query, shape, cols, rows
    return table
