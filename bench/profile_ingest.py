"""Where ingest's seconds go (issue 9 item 5): each stage of the event-file load timed alone
on the same files, in one process, plus Polars' plain conversion of the same files.

Stages are cumulative where they cannot be separated (DuckDB's parse feeds everything):
parse (every column materialised, aggregated in DuckDB), + Arrow transfer, + hash column,
+ ORDER BY, then pyarrow's Parquet encode of the sorted batches, the byte-level line pass
(linesplit.scan) and the catalog commit. Reports wall and process CPU seconds per stage: the
machine is shared, CPU seconds move less with the load than wall seconds.

    python bench/profile_ingest.py RAW_DIR [--memory-limit 1GB] [--threads 2]
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from duckpipe.ingest import load
from duckpipe.ingest.linesplit import read_header, scan
from duckpipe.ingest.rawfiles import parse_header
from duckpipe.profiles.asx import PROFILE


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class Clock:
    def __init__(self):
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def __call__(self, name: str, fn):
        t, c = time.perf_counter(), cpu()
        out = fn()
        self.wall[name] = self.wall.get(name, 0.0) + time.perf_counter() - t
        self.cpu[name] = self.cpu.get(name, 0.0) + cpu() - c
        return out


def drain(con, sql: str) -> int:
    n = 0
    for b in con.sql(sql).to_arrow_reader(load.ROW_GROUP_SIZE):
        n += b.num_rows
    return n


def arrow_sorted(table: pa.Table, keys: list[str], rows: int):
    """The alternative to DuckDB's ORDER BY that was measured and dropped: the unsorted rows in
    Arrow, ordered by sort_indices on the keys, gathered one row group at a time."""
    import pyarrow.compute as pc
    idx = pc.sort_indices(table, sort_keys=[(k, "ascending", "at_end") for k in keys])
    for i in range(0, len(idx), rows):
        yield from table.take(idx[i: i + rows]).to_batches()


def file_sql(con, path: Path, table: str) -> tuple[str, list[str]]:
    tdef = PROFILE.tables[table]
    names = parse_header(read_header(path, False))
    file_cols, present = load.map_columns(tdef, names, path)
    (sql,) = load._statements("ingest/sorted_csv.sql", file_cols=file_cols, path=str(path),
                              compression="none", buffer_size=load._csv_buffer(con),
                              required=[c.name for c in tdef.columns if c.required and c.name in present],
                              rejects_table=load.REJ_T, rejects_scan=load.REJ_S, order=True,
                              **load._event_ctx(tdef, present))
    return sql, [n for n, _ in tdef.store_columns()]


def profile_file(con, clk: Clock, table: str, path: Path, tmp: Path) -> None:
    sql, cols = file_sql(con, path, table)
    nosort = re.sub(r"\nORDER BY [^\n]*$", "", sql)
    nohash = re.sub(r"^SELECT \*, hash\([^\n]*\) AS _h\n", "SELECT *\n", nosort, flags=re.M)
    agg = "SELECT count(*), " + ", ".join(f'max("{c}")' for c in [*cols, "date"]) + f" FROM ({nohash})"
    for stage, q in (("1 parse (typed, all columns)", agg), ("2 parse + Arrow transfer", nohash),
                     ("3 + hash column", nosort)):
        load._drop_rejects(con)
        clk(stage, lambda q=q: con.execute(q).fetchall() if q == agg else drain(con, q))
    load._drop_rejects(con)
    unsorted = con.sql(nosort).to_arrow_table()
    keys = ["date", *PROFILE.tables[table].sort_by]
    clk("4b Arrow sort in memory instead (sort_indices + take)",
        lambda: sum(b.num_rows for b in arrow_sorted(unsorted, keys, load.ROW_GROUP_SIZE)))
    unsorted = None  # noqa: F841 (frees the table)
    load._drop_rejects(con)
    batches = clk("4 + ORDER BY (date, security, time)",
                lambda: list(con.sql(sql).to_arrow_reader(load.ROW_GROUP_SIZE)))
    dict_cols = [n for n, t in PROFILE.tables[table].store_columns() if t in ("INTEGER", "VARCHAR")]

    def encode():
        w = pq.ParquetWriter(tmp / "x.parquet", batches[0].schema.remove(batches[0].schema.get_field_index("_h")),
                             compression=load.COMPRESSION, use_dictionary=dict_cols)
        for b in batches:
            w.write_batch(b.drop_columns(["_h"]) if hasattr(b, "drop_columns") else
                          pa.RecordBatch.from_arrays([b.column(c) for c in b.schema.names if c != "_h"],
                                                     names=[c for c in b.schema.names if c != "_h"]),
                          row_group_size=load.ROW_GROUP_SIZE)
        w.close()
    clk("5 Parquet encode (pyarrow, snappy)", encode)

    def sums():
        parts = []
        import pyarrow.compute as pc
        for b in batches:
            h = b.column("_h")
            parts.append(pa.table({"security_code": b.column("security_code"), "date": b.column("date"),
                                   "lo": pc.bit_wise_and(h, pa.scalar(0xFFFFFFFF, pa.uint64())),
                                   "hi": pc.shift_right(h, pa.scalar(32, pa.uint64()))})
                         .group_by(["security_code", "date"]).aggregate([("lo", "sum"), ("hi", "sum"), ("lo", "count")])
                         .rename_columns(["security_code", "date", "lo", "hi", "n"]))
        load._sum_slices(parts, "lo", "hi", "n")
    clk("6 slice checksum sums (pyarrow group_by)", sums)
    batches = None  # noqa: F841
    clk("7 byte-level line pass (linesplit.scan)", lambda: scan(path, False, None))
    print(f"  {table} {path.name} done", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("raw", type=Path)
    ap.add_argument("--memory-limit", default="1GB")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tables", default="orders,trades,nbbo")
    ap.add_argument("--skip-polars", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="dp_profile_"))
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{args.memory_limit}'; SET threads = {args.threads};"
                f" SET temp_directory = '{tmp}/spill'; SET preserve_insertion_order = false")
    clk = Clock()
    files = [(t, p) for t in args.tables.split(",") for p in sorted((args.raw / t).glob("*.csv"))]
    size = sum(p.stat().st_size for _, p in files)
    print(f"{len(files)} files, {size / 1e6:,.0f} MB; load average {os.getloadavg()[0]:.1f}", flush=True)
    for table, path in files:
        profile_file(con, clk, table, path, tmp)
    if not args.skip_polars:
        import polars as pl
        for table in args.tables.split(","):
            fs = sorted((args.raw / table).glob("*.csv"))
            clk("polars scan_csv().sink_parquet()", lambda fs=fs, table=table:
                pl.scan_csv(fs, infer_schema_length=10000).sink_parquet(tmp / f"{table}.parquet"))
            clk("polars parse only (scan_csv().select(all).max())", lambda fs=fs:
                pl.scan_csv(fs, infer_schema_length=10000).select(pl.all().max()).collect())
    print(f"\nload average after {os.getloadavg()[0]:.1f}\n")
    print("| stage | wall s | CPU s | MB/s (wall) |\n|---|---:|---:|---:|")
    for k in clk.wall:
        print(f"| {k} | {clk.wall[k]:.1f} | {clk.cpu[k]:.1f} | {size / 1e6 / clk.wall[k]:.0f} |")
    import shutil
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
