"""One memory budget per command (SPEC §7): how ``--memory-limit`` is shared.

A run has two DuckDB instances in one process: the catalog (``duckpipe.duckdb``: checkpoint
rows, the results manifest, small bookkeeping queries) and the executor (the batch's
templates over the store). Each gets a share, never the whole limit: the catalog a small fixed
share (12%, at least 128 MB, at most half), the executor the rest. Once the batches are done the
executor is closed and the catalog gets the whole limit back for the post-run aggregation.
Arrow buffers of a batch are dropped once its result files are written; local by-unit runs hold
a few batches' rows first (``engine.runner``: at most a quarter of the limit, and 256 MB), within
the command's allowance over the limit for Arrow and Python (SPEC §7: limit + 0.5 GB).
"""
from __future__ import annotations

from dataclasses import dataclass

CATALOG_SHARE = 0.12
CATALOG_MIN = 128 * 2**20


@dataclass(frozen=True)
class Budget:
    total: int
    catalog: int
    executor: int


def split(limit_bytes: int) -> Budget:
    catalog = min(max(int(limit_bytes * CATALOG_SHARE), CATALOG_MIN), limit_bytes // 2)
    return Budget(limit_bytes, catalog, limit_bytes - catalog)


def mb(n: int) -> str:
    """A DuckDB size string (whole MB) for ``SET memory_limit``."""
    return f"{max(1, n // 2**20)}MB"
