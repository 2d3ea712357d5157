"""Jinja2 rendering of the SQL templates under ``sql/``.

Jinja only *shapes* a query (optional clauses, column lists). Values reach DuckDB as bound
parameters (``$name``); where DuckDB cannot bind (``SET``, ``COPY ... TO 'path'``, view
definitions), the ``literal`` filter quotes a string and ``ident`` checks an identifier
against a whitelist. ``StrictUndefined`` makes a missing template variable an error.
"""
from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def quote_literal(value: Any) -> str:
    """Render a Python value as a SQL literal (strings single-quoted, quotes doubled)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"cannot render {value!r} as a SQL literal")
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(quote_literal(v) for v in value) + "]"
    text = str(value)
    if "\x00" in text:
        raise ValueError("NUL byte in SQL literal")
    return "'" + text.replace("'", "''") + "'"


def quote_ident(name: str) -> str:
    """Double-quote an identifier after checking it is a plain name (no injection by name)."""
    if not isinstance(name, str) or not _IDENT.match(name):
        raise ValueError(f"not a valid identifier: {name!r}")
    return '"' + name + '"'


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(SQL_DIR)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["literal"] = quote_literal
    env.filters["ident"] = quote_ident
    return env


def render(template: str, **context: Any) -> str:
    """Render ``sql/<template>`` with ``context``."""
    return environment().get_template(template).render(**context)


def template_text(template: str) -> str:
    """The raw text of a template (what unit signatures hash)."""
    return (SQL_DIR / template).read_text(encoding="utf-8")


def templates_digest(templates: list[str]) -> str:
    """A stable hash over the text of ``templates``: editing one changes it."""
    h = hashlib.sha256()
    for name in templates:
        h.update(name.encode())
        h.update(b"\0")
        h.update(template_text(name).encode())
        h.update(b"\0")
    return h.hexdigest()


def split_statements(sql: str) -> list[str]:
    """Split a rendered template on ``;`` at line ends (templates put one statement per block)."""
    parts = re.split(r";\s*(?:\n|$)", sql)
    return [p.strip() for p in parts if p.strip() and not _only_comments(p)]


def _only_comments(text: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in text.splitlines())
