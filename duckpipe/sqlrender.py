"""Jinja2 rendering of the SQL templates under ``sql/`` (package ``duckpipe.sql`` when installed).

Jinja only *shapes* a query (optional clauses, column lists). Values reach DuckDB as bound
parameters (``$name``); where DuckDB cannot bind (``SET``, ``COPY ... TO 'path'``, view
definitions), the ``literal`` filter quotes a string and ``ident`` checks an identifier
against a whitelist; ``ints`` renders an integer or a list of integers (profile code sets) as
SQL literals and refuses anything else; ``dates`` does the same for dates. ``StrictUndefined`` makes a missing template variable an error.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from functools import lru_cache
from importlib import resources
from typing import Any

import duckdb
import jinja2
import jinja2.bccache

from .db import execute, quote_ident, quote_literal


def sql_root():
    """The shipped templates (the repository's ``sql/``, package ``duckpipe.sql`` when installed)."""
    return resources.files("duckpipe.sql")


# How templates are parsed: part of the bytecode cache's file names, so that compiled code made
# under other options is never reused (Jinja's own key is the template's name and text only).
_OPTIONS = {"keep_trailing_newline": True, "trim_blocks": True, "lstrip_blocks": True}


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(sql_root())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        bytecode_cache=bytecode_cache(),
        **_OPTIONS,
    )
    env.filters["literal"] = quote_literal
    env.filters["ident"] = quote_ident
    env.filters["ints"] = int_literals
    env.filters["dates"] = date_literals
    return env


class _BytecodeCache(jinja2.FileSystemBytecodeCache):
    """Jinja's file cache that never fails a render: a cache file that cannot be read or written
    (a cleaned temp folder, a full disk, a truncated file) only means compiling again."""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # noqa: BLE001 - any unreadable cache entry is a miss
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


def bytecode_cache() -> jinja2.BytecodeCache | None:
    """Jinja's compiled templates kept between processes (its own per-user folder in the temp
    directory): compiling the ~35 templates of a run costs ~0.1 s in every command otherwise.
    None where that folder cannot be made safe (Jinja refuses one another user owns)."""
    tag = hashlib.sha256(repr(sorted(_OPTIONS.items())).encode()).hexdigest()[:8]
    try:
        return _BytecodeCache(pattern=f"__duckpipe_{tag}_%s.cache")
    except (OSError, RuntimeError):
        return None


def int_literals(value: Any) -> str:
    """``7`` -> ``7``, ``[7, 8]`` -> ``7, 8``: integer code sets as SQL literals, validated."""
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if not values or any(not isinstance(v, int) or isinstance(v, bool) for v in values):
        raise ValueError(f"not an integer or a non-empty list of integers: {value!r}")
    return ", ".join(str(int(v)) for v in values)


def date_literals(value: Any) -> str:
    """``[date(2024, 9, 2)]`` -> ``DATE '2024-09-02'``: dates as SQL literals, validated."""
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if not values or any(not isinstance(v, dt.date) or isinstance(v, dt.datetime) for v in values):
        raise ValueError(f"not a date or a non-empty list of dates: {value!r}")
    return ", ".join(f"DATE '{v.isoformat()}'" for v in values)


def render(template: str, **context: Any) -> str:
    """Render ``sql/<template>`` with ``context``."""
    return environment().get_template(template).render(**context)


def template_text(template: str) -> str:
    """The raw text of a template (what unit signatures hash)."""
    return sql_root().joinpath(template).read_text(encoding="utf-8")


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


def run_script(con: duckdb.DuckDBPyConnection, template: str, params: dict[str, Any] | None = None,
               **context: Any) -> None:
    """Render ``template`` and execute each statement, binding ``params`` where named."""
    for stmt in split_statements(render(template, **context)):
        execute(con, stmt, params, template=template)


__all__ = ["render", "run_script", "split_statements", "templates_digest", "template_text",
           "quote_ident", "quote_literal", "sql_root", "int_literals", "date_literals"]
