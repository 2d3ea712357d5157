"""Where the markout and liquidity steps' seconds go (issue 11: profile first), on a real batch.

Runs every analysis step of one batch (the units of the first ``--dates`` dates of an ingested
workspace) in one in-memory DuckDB, like the local executor, timing each step in wall and
process CPU seconds; then writes the batch's result tables as Parquet (timed per table) and
prints DuckDB's ``EXPLAIN ANALYZE`` of the markout and liquidity templates (``--explain``).
With ``--partials``, the workspace must have been run: times instead the post-run rebuild of
every unit's markout and liquidity partials (in a transaction rolled back after).
"""
from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

import duckdb


def clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def partials_only(ws: Path) -> None:
    from duckpipe.analysis import partials
    from duckpipe.catalog import open_workspace
    from duckpipe.settings import resolve
    settings = resolve(workspace=ws, memory_limit="1GB", threads=2)
    print("| post-run partials (every unit) | wall s | CPU s |\n|---|---:|---:|")
    with open_workspace(settings, "bench") as con:
        for family in ("markouts", "liquidity"):
            for _ in range(2):
                con.execute("BEGIN TRANSACTION")
                w0, c0 = clock()
                partials.refresh(con, [family], full=True)
                w1, c1 = clock()
                con.execute("ROLLBACK")
                print(f"| {family} | {w1 - w0:.2f} | {c1 - c0:.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("workspace", type=Path)
    ap.add_argument("--dates", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--explain", action="store_true")
    ap.add_argument("--save", type=Path, help="copy the batch's temp tables and its trades into this DuckDB file")
    ap.add_argument("--partials", action="store_true", help="time the post-run partials of a run workspace")
    args = ap.parse_args()
    if args.partials:
        partials_only(args.workspace)
        return
    from duckpipe import results
    from duckpipe.analysis import pipelines, steps
    from duckpipe.analysis.simulate import simulate_batch
    from duckpipe.engine.executor import _configure_executor
    from duckpipe.profiles import get_profile
    from duckpipe.settings import DEFAULT_SCENARIOS
    from duckpipe.sqlrender import render
    from duckpipe.store import create_views, store_files

    cat = duckdb.connect(str(args.workspace / "duckpipe.duckdb"), read_only=True)
    dates = [d for (d,) in cat.execute("SELECT DISTINCT date FROM ingest_files WHERE table_name = 'orders' AND rows > 100000"
                                       " ORDER BY date LIMIT $n", {"n": args.dates}).fetchall()]
    files = store_files(cat, dates=dates, root=args.workspace.resolve())
    cat.close()
    units = [(int(s), d) for s, d in duckdb.execute("SELECT DISTINCT security_code, date FROM read_parquet($f)"
                                                    " ORDER BY ALL", {"f": files["orders"]}).fetchall()]
    con = duckdb.connect(":memory:")
    tmp = Path(tempfile.mkdtemp(prefix="profile_markouts_"))
    _configure_executor(con, memory_limit="1GB", threads=args.threads, temp_dir=tmp / "spill")
    profile = get_profile()
    create_views(con, files, profile)
    ctx, bind = steps.render_context(units, None, DEFAULT_SCENARIOS, profile)
    print(f"{len(units)} units of {', '.join(map(dt.date.isoformat, dates))}")
    print("| step | wall s | CPU s |\n|---|---:|---:|")
    tables = {}
    for template in steps.UNIT_TEMPLATES:
        if template == "analysis/080_dark_results.sql":
            m, o = simulate_batch(con.table("a_sim_sweeps").to_arrow_table(), con.table("a_sim_contras").to_arrow_table())
            con.register("sim_matches_arrow", m)
            con.register("sim_outcomes_arrow", o)
        if template == "analysis/090_cleanup.sql":
            w0, c0 = clock()
            tables = {name: con.table(src).to_arrow_table() for name, src in steps._SOURCE.items()}
            w1, c1 = clock()
            print(f"| to Arrow (all tables) | {w1 - w0:.2f} | {c1 - c0:.2f} |")
            if args.save:
                con.execute(f"ATTACH '{args.save}' AS saved")
                for (name,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall():
                    con.execute(f"CREATE OR REPLACE TABLE saved.{name} AS FROM temp.{name}")
                con.execute("CREATE OR REPLACE TABLE saved.trades AS FROM trades WHERE list_contains($d, date)",
                            {"d": dates})
                con.execute("DETACH saved")
            if args.explain:
                for t in ("analysis/085_markouts.sql", "analysis/086_liquidity.sql"):
                    body = render(t, **ctx)
                    body = body[body.index("CREATE OR REPLACE TEMP TABLE"):]
                    body = body.split(" AS\n", 1)[1]
                    used = {k: v for k, v in bind.items() if f"${k}" in body}
                    print(f"\n-- EXPLAIN ANALYZE {t}")
                    for row in con.execute("EXPLAIN ANALYZE " + body, used).fetchall():
                        print(row[1])
        w0, c0 = clock()
        from duckpipe.sqlrender import run_script
        run_script(con, template, bind, **ctx)
        w1, c1 = clock()
        print(f"| {template} | {w1 - w0:.2f} | {c1 - c0:.2f} |")
    pipe = pipelines.get("analysis")
    cols = results.pipeline_columns(pipe)
    for name, data in tables.items():
        w0, c0 = clock()
        written = results.write_batch(con, {name: data}, cols, tmp / "ws")
        w1, c1 = clock()
        print(f"| write {name} ({data.num_rows:,} rows, {sum(f.bytes for f in written) / 1e6:.1f} MB)"
              f" | {w1 - w0:.2f} | {c1 - c0:.2f} |")


if __name__ == "__main__":
    main()
