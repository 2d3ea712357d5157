"""Sort a file's rows in memory when they fit (issue 9 item 5: ingest at the parser's speed).

Measured on 2 GB of synth CSV (BENCHMARKS.md, "Where ingest's seconds go"): DuckDB's ORDER BY
of the typed read costs about 0.65x the parse itself, because it re-materialises and scatters
every column of every row. A file whose rows fit comfortably in memory is instead read
unsorted into Arrow (DuckDB's parallel read and conversion, no sort), ordered by
``pyarrow.compute.sort_indices`` on the sort keys only (a stable sort: time-sorted exchange
files are nearly in order already) and gathered one row group at a time, so at most the
unsorted table plus one row group is alive. A file too large for the budget keeps the
out-of-core DuckDB ORDER BY, which spills under ``memory_limit``.

The budget: the Arrow table takes about 1.6 bytes per CSV byte (typed columns, the date and
the hash column); it lives outside DuckDB's pool, and ingest's peak RSS must stay within
``memory_limit`` + 0.5 GB while DuckDB itself holds only read buffers during an unsorted
read. A file is sorted in memory when its estimated table is at most ``SHARE`` of the limit.
"""
from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc

ARROW_PER_CSV_BYTE = 1.6        # measured: 97 MB orders CSV -> 149 MB Arrow (with date and _h)
SHARE = 0.5                     # of memory_limit


def fits(csv_bytes: int, limit_bytes: int) -> bool:
    """Whether a plain (uncompressed) CSV of ``csv_bytes`` is sorted in memory."""
    return csv_bytes * ARROW_PER_CSV_BYTE <= limit_bytes * SHARE


def sorted_batches(table: pa.Table, keys: list[str], rows: int) -> Iterator[pa.RecordBatch]:
    """``table`` ordered by ``keys`` (ascending, NULLs last as DuckDB's ORDER BY), in batches of
    ``rows``: the indices are sorted once, each batch gathered when it is asked for."""
    if not table.num_rows:
        return
    idx = pc.sort_indices(table, sort_keys=[(k, "ascending", "at_end") for k in keys])
    for i in range(0, len(idx), rows):
        yield from table.take(idx[i: i + rows]).to_batches()
