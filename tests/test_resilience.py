"""Two processes: SIGKILL at random moments then resume, live status, clean Ctrl-C (SPEC §4, §7)."""
from __future__ import annotations

import math
import random
import shutil
import signal
import subprocess
import sys
import time

import duckdb
import pytest
from conftest import REPO, duckpipe_cli, duckpipe_inproc

TABLES = {
    "counts": ["unit_counts"],
    "analysis": ["order_states", "sweeps", "scenario_costs", "dark_matches", "dark_sweeps"],
}


def _start_run(ws, *extra):
    return subprocess.Popen([sys.executable, "-m", "duckpipe", "run", "--workspace", str(ws), "--memory-limit",
                             "1GB", "--threads", "2", "-q", *extra], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_running(ws, proc, timeout=60.0):
    """Until the run in ``proc`` has written its status file (its signal handlers are in place)."""
    import json
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        try:
            if json.loads((ws / "status.json").read_text()).get("pid") == proc.pid:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.05)


def _wait_units_done(ws, proc, n: int, timeout=60.0, key="units_done"):
    """Until the run in ``proc`` has committed ``n`` units (its status file says so; ``key``
    "batches_done": computed ``n`` batches) or has ended."""
    import json
    deadline = time.time() + timeout
    while n > 0 and time.time() < deadline and proc.poll() is None:
        try:
            st = json.loads((ws / "status.json").read_text())
            if st.get("pid") == proc.pid and st.get(key, 0) >= n:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.01)


def _snapshot(ws, tables):
    """Every result table, sorted, with the engine's own columns (run ids, timings) left out."""
    con = duckdb.connect(str(ws / "duckpipe.duckdb"), read_only=True)
    try:
        out = {}
        for t in tables:
            cols = [c for (c,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = $t ORDER BY ordinal_position",
                {"t": t}).fetchall() if c not in ("run_id", "computed_at")]
            collist = ", ".join(f'"{c}"' for c in cols)
            out[t] = con.execute(f"SELECT {collist} FROM {t} ORDER BY ALL").fetchall()
        out["units"] = con.execute("SELECT security_code, date, status FROM units ORDER BY ALL").fetchall()
        return out
    finally:
        con.close()


def _same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _unit_states(ws) -> dict[str, int]:
    con = duckdb.connect(str(ws / "duckpipe.duckdb"), read_only=True)
    try:
        return dict(con.execute("SELECT status, count(*) FROM units GROUP BY ALL").fetchall())
    finally:
        con.close()


def _pipelines():
    return ["counts", "analysis"]


@pytest.fixture(scope="module")
def reference(ran_template, ingested_template, tmp_path_factory):
    """``reference(pipeline)``: the snapshot of an uninterrupted run of the ingested workspace, for
    the tests that compare a resumed run with it. The analysis one is the shared ``ran_template``
    (default strategy: per-unit results do not depend on the batching, SPEC §4); the counts one is
    computed once here."""
    cache: dict[str, dict] = {"analysis": _snapshot(ran_template, TABLES["analysis"])}

    def get(pipeline: str) -> dict:
        if pipeline not in cache:
            ws = tmp_path_factory.mktemp(f"reference-{pipeline}") / "ws"
            shutil.copytree(ingested_template, ws, ignore=shutil.ignore_patterns("duckpipe.lock", "status.json"))
            res = duckpipe_inproc("run", "--workspace", str(ws), "--pipeline", pipeline, "-q")
            assert res.returncode == 0, res.stderr
            cache[pipeline] = _snapshot(ws, TABLES[pipeline])
        return cache[pipeline]
    return get


@pytest.mark.slow
@pytest.mark.parametrize("pipeline", _pipelines())
def test_sigkill_at_random_moments_then_resume_equals_uninterrupted(workspace, reference, pipeline):
    want = reference(pipeline)
    assert len(want["units"]) >= 40 and {s for _, _, s in want["units"]} == {"done"}

    rng = random.Random(20241123)
    mid_run_kills = 0                    # kills that left some units done and some not
    for _ in range(4):
        proc = _start_run(workspace, "--pipeline", pipeline, "--strategy", "by-unit")
        _wait_running(workspace, proc)           # past start-up: the kill lands among the batches,
        _wait_units_done(workspace, proc, rng.randint(0, 4))   # counted in units, not seconds (a fast
        time.sleep(rng.uniform(0.0, 0.3))                      # machine ran the counts before a timed kill)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
            states = _unit_states(workspace)
            mid_run_kills += 0 < states.get("done", 0) < sum(states.values())
        proc.wait(timeout=60)
    assert mid_run_kills >= 1, "no kill landed in the middle of the units: make the data bigger"
    res = duckpipe_inproc("run", "--workspace", str(workspace), "--pipeline", pipeline, "--strategy", "by-unit", "-q")
    assert res.returncode == 0, res.stderr
    got = _snapshot(workspace, TABLES[pipeline])
    for table in want:
        assert len(got[table]) == len(want[table]), table
        assert all(_same(a, b) for a, b in zip(got[table], want[table])), table


@pytest.mark.slow
def test_status_from_a_second_terminal_shows_live_progress(workspace):
    proc = _start_run(workspace, "--pipeline", "counts", "--strategy", "by-unit", "--cool-every", "1",
                      "--cool-seconds", "0.25")
    try:
        seen = []
        deadline = time.time() + 60
        while time.time() < deadline and len(seen) < 2:
            res = duckpipe_cli("status", "--workspace", str(workspace))
            assert res.returncode == 0, res.stderr
            if "units done" in res.stdout and ("is running" in res.stdout or "is paused" in res.stdout):
                done = int(res.stdout.split(":")[1].split("/")[0])
                if not seen or done > seen[-1]:
                    seen.append(done)
            time.sleep(0.5)
        assert len(seen) == 2 and seen[1] > seen[0], seen
        assert f"(pid {proc.pid})" in res.stdout
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_with_exit_3_and_resumes(workspace):
    proc = _start_run(workspace, "--pipeline", "counts", "--strategy", "by-unit", "--cool-every", "1",
                      "--cool-seconds", "0.2")
    _wait_running(workspace, proc)
    # a batch computed (by-unit: held, not yet committed; Ctrl-C commits it), not every one
    _wait_units_done(workspace, proc, 1, key="batches_done")
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err
    assert "interrupted" in err
    con = duckdb.connect(str(workspace / "duckpipe.duckdb"), read_only=True)
    try:
        states = dict(con.execute("SELECT status, count(*) FROM units GROUP BY ALL").fetchall())
        run_state = con.execute("SELECT status FROM runs").fetchall()
    finally:
        con.close()
    assert "running" not in states and states.get("done", 0) > 0 and states.get("pending", 0) > 0
    assert run_state == [("interrupted",)]
    res = duckpipe_inproc("run", "--workspace", str(workspace), "--pipeline", "counts", "-q")
    assert res.returncode == 0
    res = duckpipe_inproc("units", "--workspace", str(workspace), "--pipeline", "counts")
    n = sum(states.values())                     # every unit the interrupted run knew of
    con = duckdb.connect(str(workspace / "duckpipe.duckdb"), read_only=True)
    try:                                         # ... is every (security, date) of the orders store
        assert n == con.execute("SELECT count(DISTINCT (security_code, date)) FROM store_partitions"
                                " WHERE table_name = 'orders'").fetchone()[0]
    finally:
        con.close()
    assert f"{n} of {n} units: {n} done" in res.stdout


@pytest.mark.slow
def test_ctrl_c_inside_queries_then_resume_equals_uninterrupted(workspace, reference):
    """SIGINT at random moments of a run without pauses, so it lands inside DuckDB queries and
    commits: every stop is a clean exit 3 (never a unit marked failed), and the resumed result
    equals an uninterrupted run."""
    want = reference("analysis")
    rng = random.Random(7)
    stops = 0
    for _ in range(4):
        proc = _start_run(workspace, "--strategy", "by-unit")
        _wait_running(workspace, proc)
        time.sleep(rng.uniform(0.1, 1.5))
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode in (0, 3), err
        assert "failed" not in err.lower().replace("0 failed", ""), err
        stops += proc.returncode == 3
    assert stops >= 1
    assert duckpipe_inproc("run", "--workspace", str(workspace), "--strategy", "by-unit", "-q").returncode == 0
    got = _snapshot(workspace, TABLES["analysis"])
    for table in want:
        assert len(got[table]) == len(want[table]), table
        assert all(_same(a, b) for a, b in zip(got[table], want[table])), table
