"""The report's reads: catalog tables discovered (never assumed); report queries are in provenance.py."""
from __future__ import annotations

import duckdb

from ..db import execute, quote_ident


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """Columns of a catalog table or view, [] when it does not exist (discovered, not assumed)."""
    return [r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
        "AND table_schema = 'main' AND table_catalog = current_database() ORDER BY ordinal_position",
        [table]).fetchall()]


def query(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None,
          template: str = "") -> tuple[list[str], list[tuple]]:
    """Run one statement; return (column names, rows)."""
    cur = execute(con, sql, params, template=template)
    return [d[0] for d in cur.description], cur.fetchall()


def select_all(con: duckdb.DuckDBPyConnection, table: str, order: str = "") -> tuple[list[str], list[tuple]]:
    """SELECT * of a whitelisted table ('' order or a column of that table)."""
    cols = table_columns(con, table)
    if not cols:
        return [], []
    by = f" ORDER BY {quote_ident(order)} DESC NULLS LAST" if order in cols else " ORDER BY ALL"
    return query(con, f"SELECT * FROM {quote_ident(table)}{by}")
