"""Which input file is which: the literal file DuckDB reads, the same file reached by two paths,
the same content under another name.

- DuckDB reads a path with ``[``, ``*`` or ``?`` as a glob pattern (``day[1].csv`` matches
  ``day1.csv``): :func:`glob_literal` escapes those characters as one-character classes
  (``[[]``, ``[*]``, ``[?]``), which DuckDB's glob matches literally (read_csv, read_parquet,
  parquet_schema).
- A file reached twice (a symlinked SOURCE folder, a SOURCE plus a ``--TABLE`` glob) is one
  file: :func:`same_files` keeps the first path of each real file and maps a later path of a
  file already in the manifest onto the path the manifest records.
- A file whose content (table, format, size, whole-file CRC, fingerprint, rows loaded and
  rejected) equals a committed one is not committed again: :func:`same_content` finds the
  earlier path (a rename if it is gone, a copy if it still holds that content).
"""
from __future__ import annotations

import logging
import os
import re
import zlib
from dataclasses import replace
from pathlib import Path

import duckdb

from ..db import execute
from ..sqlrender import render
from .rawfiles import InputFile, fingerprint

log = logging.getLogger(__name__)

_GLOB = re.compile(r"([\[*?])")


def glob_literal(path: str) -> str:
    """``path`` as DuckDB's file readers match it literally: glob characters in classes."""
    return _GLOB.sub(r"[\1]", path)


def same_files(con: duckdb.DuckDBPyConnection, files: list[InputFile]) -> list[InputFile]:
    """One entry per real file: a path of a file the manifest records under another (existing)
    path is replaced by that path; a second path of a file already listed is dropped (info line)."""
    known: dict[str, str] = {}
    for (p,) in execute(con, render("ingest/manifest_paths.sql"), template="ingest/manifest_paths.sql").fetchall():
        if os.path.exists(p):
            known.setdefault(os.path.realpath(p), p)
    out: list[InputFile] = []
    first: dict[str, str] = {}
    for f in files:
        real = os.path.realpath(f.path)
        recorded = known.get(real)
        if recorded is not None and recorded != str(f.path):
            log.info("%s: the same file as %s (already ingested): handled under that path", f.path, recorded)
            f = replace(f, path=Path(recorded))
        if real in first:
            log.info("skipped (the same file as %s): %s", first[real], f.path)
            continue
        first[real] = str(f.path)
        out.append(f)
    return out


def file_crc(path: Path, chunk: int = 1 << 24) -> str:
    """CRC32 of the whole file as stored (Parquet inputs, which have no byte-level pass)."""
    crc = 0
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            crc = zlib.crc32(block, crc)
    return f"crc32:{crc:08x}"


def same_content(con: duckdb.DuckDBPyConnection, f: InputFile, size: int, crc: str | None, fp: str,
                 loaded: int, rejected: int) -> tuple[str, bool] | None:
    """The committed input file with the content of ``f`` (another path), and whether it still
    exists unchanged (``f`` is a copy) or is gone (``f`` is that file renamed); None when there is
    none, no CRC to compare, or the earlier path now holds something else (then both are loaded
    as what they are: the earlier file is reloaded as changed)."""
    if crc is None:
        return None
    rows = execute(con, render("ingest/same_content.sql"),
                   {"p": str(f.path), "t": f.table, "fmt": f.fmt, "size": size, "crc": crc, "fp": fp,
                    "loaded": loaded, "rejected": rejected}, template="ingest/same_content.sql").fetchall()
    gone = None
    for path, old_size, old_mtime, old_fp in rows:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            gone = gone or path
            continue
        if (st.st_size, st.st_mtime) == (old_size, old_mtime) and fingerprint(Path(path), st.st_size) == old_fp:
            return path, True
    return (gone, False) if gone else None


__all__ = ["glob_literal", "same_files", "same_content", "file_crc"]
