"""Bookkeeping tells the truth after a kill or an error (issue: nothing stale, nothing lost)."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import duckdb
import pytest
from conftest import REPO, duckpipe_cli, duckpipe_inproc

pytestmark = pytest.mark.slow

ERROR_IN_STATS = """
import sys
from duckpipe import cli
from duckpipe.analysis import stats
def broken(*a, **k):
    raise RuntimeError("disk on fire")
stats.compute_stats = broken
sys.argv = ["duckpipe", "run", *sys.argv[1:]]
cli.main()
"""


def _runs(ws) -> list[tuple]:
    con = duckdb.connect(str(ws / "duckpipe.duckdb"), read_only=True)
    try:
        return con.execute("SELECT run_id, status, units_done, (SELECT count(*) FROM units u WHERE u.run_id = r.run_id"
                           " AND u.status = 'done') FROM runs r ORDER BY started_at").fetchall()
    finally:
        con.close()


def test_a_killed_run_is_shown_killed_and_closed_by_the_next_run(workspace):
    proc = subprocess.Popen([sys.executable, "-m", "duckpipe", "run", "--workspace", str(workspace), "--strategy",
                             "by-unit", "-q"], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:      # until some units are committed
            try:
                st = json.loads((workspace / "status.json").read_text())
                if st.get("pid") == proc.pid and st.get("units_done", 0) > 0:
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        assert proc.poll() is None, "the run finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    res = duckpipe_cli("status", "--workspace", str(workspace))
    assert res.returncode == 0, res.stderr
    assert ": killed" in res.stdout and "finished None" not in res.stdout, res.stdout
    (run_id, status, _, committed), = _runs(workspace)
    assert status == "running" and committed > 0                # what the dead process left
    assert duckpipe_inproc("run", "--workspace", str(workspace), "-q").returncode == 0
    first, second = _runs(workspace)[:2]
    assert first[0] == run_id and first[1] == "killed" and first[2] == first[3] == committed
    assert second[1] == "finished"


def test_an_errored_run_records_the_units_it_committed(workspace):
    res = subprocess.run([sys.executable, "-c", ERROR_IN_STATS, "--workspace", str(workspace), "-q"], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 1 and "disk on fire" in res.stderr
    (_, status, done, committed), = _runs(workspace)
    assert status == "error" and done == committed > 0


def test_ingest_of_a_missing_source_creates_no_workspace(tmp_path):
    ws = tmp_path / "ws"
    res = duckpipe_cli("ingest", str(tmp_path / "no-such-folder"), "--workspace", str(ws))
    assert res.returncode == 2 and "does not exist" in res.stderr
    assert not ws.exists()
