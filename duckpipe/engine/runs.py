"""The ``runs`` and ``run_stages`` tables (SPEC §4): the one module that writes them.

A run row is written when the run starts (status ``running``) and finished with its outcome.
A ``running`` row seen by a later command under the workspace lock was left by a process
that died: it is closed as ``killed``.
"""
from __future__ import annotations

import json
from typing import Any

import duckdb


def start_run(con: duckdb.DuckDBPyConnection, run_id: str, *, argv: list[str], settings: dict[str, Any],
              machine: dict[str, Any], strategy: str, reason: str, units_selected: int,
              executor: dict[str, Any] | None = None) -> None:
    close_dead_runs(con)
    con.execute("INSERT INTO runs (run_id, started_at, status, argv, settings, machine, strategy, strategy_reason,"
                " units_selected, units_done, units_failed, executor) VALUES ($r, now()::TIMESTAMP, 'running', $a,"
                " $s, $m, $st, $why, $n, 0, 0, $ex)",
                {"r": run_id, "a": json.dumps(argv), "s": json.dumps(settings, default=str),
                 "m": json.dumps(machine, default=str), "st": strategy, "why": reason, "n": units_selected,
                 "ex": json.dumps(executor or {"executor": "local"})})


def finish_run(con: duckdb.DuckDBPyConnection, run_id: str, *, status: str, units_done: int,
               units_failed: int, peak_rss_bytes: int | None = None) -> None:
    """Close the run row: finished | failed | interrupted | error, with what it committed."""
    con.execute("UPDATE runs SET finished_at = now()::TIMESTAMP, status = $st, units_done = $d, units_failed = $f,"
                " peak_rss_bytes = coalesce($p, peak_rss_bytes) WHERE run_id = $r",
                {"st": status, "d": units_done, "f": units_failed, "p": peak_rss_bytes, "r": run_id})


def close_dead_runs(con: duckdb.DuckDBPyConnection) -> int:
    """Runs still ``running`` while we hold the lock were killed: record it (and what they committed)."""
    dead = con.execute("SELECT run_id FROM runs WHERE status = 'running'").fetchall()
    for (run_id,) in dead:
        con.execute("UPDATE runs SET status = 'killed', units_done = (SELECT count(*) FROM units"
                    " WHERE run_id = $r AND status = 'done') WHERE run_id = $r", {"r": run_id})
    return len(dead)


def record_stage(con: duckdb.DuckDBPyConnection, run_id: str, stage: str, *, started: float | None,
                 duration_s: float, rows: int | None = None, peak_rss_bytes: int | None = None,
                 spilled_bytes: int | None = None) -> None:
    """One ``run_stages`` row (``started`` in Unix seconds; None for per-step sums)."""
    con.execute("INSERT INTO run_stages VALUES ($r, $s, to_timestamp($t0)::TIMESTAMP,"
                " CASE WHEN $t0 IS NULL THEN NULL ELSE now()::TIMESTAMP END, $d, $n, $p, $sp)",
                {"r": run_id, "s": stage, "t0": started, "d": duration_s, "n": rows, "p": peak_rss_bytes,
                 "sp": spilled_bytes})


def replace_stage(con: duckdb.DuckDBPyConnection, run_id: str, stage: str, *, started: float,
                  duration_s: float, peak_rss_bytes: int | None = None) -> None:
    """Record ``stage`` of ``run_id`` once (a later report replaces an earlier one)."""
    con.execute("DELETE FROM run_stages WHERE run_id = $r AND stage = $s", {"r": run_id, "s": stage})
    record_stage(con, run_id, stage, started=started, duration_s=duration_s, peak_rss_bytes=peak_rss_bytes,
                 spilled_bytes=0)


def expected_stage_seconds(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    """Seconds of each stage after ``units`` (aggregate, stats) in the last run that had them:
    the ETA of a run covers the aggregation too (it rebuilds from all done units, so the last
    run's time is the best guess)."""
    rows = con.execute(
        "SELECT stage, duration_s FROM run_stages WHERE run_id = (SELECT run_id FROM run_stages"
        " WHERE stage <> 'units' AND stage NOT LIKE 'step %' AND finished_at IS NOT NULL"
        " ORDER BY finished_at DESC LIMIT 1) AND stage <> 'units' AND stage NOT LIKE 'step %'"
        " ORDER BY started_at").fetchall()
    return {name: float(secs or 0.0) for name, secs in rows}
