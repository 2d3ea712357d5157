"""Ingest within --memory-limit at any file size (SPEC §3: memory stays within the limit).

Measured on a 214 MB orders CSV (issue 12): the sort of the typed read spills correctly, but
DuckDB's CSV reader keeps its read buffers (32 MiB each by default, one or more per thread)
pinned in the same budget, so at 64-256 MB the sort cannot get a block and the file fails
with out-of-memory. The read buffer and the number of reader/sort threads are therefore sized
from the limit: at 1 GB and above nothing changes (DuckDB's own buffers, all threads); at 128 MB
the file streams through 7 MiB buffers and one thread, and the sort spills to temp_directory.
"""
from __future__ import annotations

import re

import duckdb

MiB = 1 << 20
MAX_LINE = 2 * MiB                 # DuckDB's max_line_size default: the buffer must exceed it
DEFAULT_BUFFER = 32 * MiB          # DuckDB's default CSV buffer (16 x max_line_size)
MIN_BUFFER = 4 * MiB
BUFFER_SHARE = 16                  # one buffer is at most 1/16 of the limit
THREAD_BUDGET = 128 * MiB          # each reader/sort thread gets at least this much of the limit
_UNITS = {"b": 1, "kib": 1 << 10, "mib": MiB, "gib": 1 << 30, "tib": 1 << 40,
          "kb": 10 ** 3, "mb": 10 ** 6, "gb": 10 ** 9, "tb": 10 ** 12}


def memory_limit(con: duckdb.DuckDBPyConnection) -> int:
    """The connection's memory limit in bytes (DuckDB reports e.g. '122.0 MiB')."""
    text = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    m = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]+)\s*", str(text))
    if not m or m.group(2).lower() not in _UNITS:
        return 1 << 62                 # no limit reported: treat as unbounded
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def csv_buffer_size(con: duckdb.DuckDBPyConnection) -> int | None:
    """CSV read buffer: None (DuckDB's own default, the read is unchanged) on large limits,
    1/16 of the limit (>= 4 MiB) on small ones."""
    size = max(MIN_BUFFER, memory_limit(con) // BUFFER_SHARE // MiB * MiB)
    return size if size < DEFAULT_BUFFER else None


def ingest_threads(limit_bytes: int, threads: int) -> int:
    """Threads for the ingest reads and sorts: every thread pins buffers of its own."""
    return max(1, min(threads, limit_bytes // THREAD_BUDGET))
