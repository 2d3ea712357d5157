"""Aggregates and statistics are resumable (issue: nothing stale): a run killed between its last
unit and the end of the aggregation leaves them to the next run, which rebuilds them even though
no unit is left to compute."""
from __future__ import annotations

import math
import subprocess
import sys

import duckdb
import pytest
from conftest import REPO, duckpipe_inproc

from duckpipe.analysis.aggregate import AGGREGATES

pytestmark = pytest.mark.slow
POST_RUN = [*AGGREGATES, "stats_tests"]

# Runs `duckpipe run` in-process and SIGKILLs itself at a chosen point of the post-run stage.
KILL_IN_FINALIZE = """
import os, signal, sys
from duckpipe import cli
from duckpipe.analysis import pipelines, stats
where = sys.argv[1]
if where == "before":                 # every unit committed, aggregation not started
    from duckpipe.engine import session
    session._finalize = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
else:                                 # aggregates written (uncommitted), statistics under way
    stats.compute_stats = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
sys.argv = ["duckpipe", "run", *sys.argv[2:]]
cli.main()
"""


def _kill_run(ws, where: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", KILL_IN_FINALIZE, where, "--workspace", str(ws), "--memory-limit",
                           "1GB", "--threads", "2", "-q", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


def _tables(ws) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(ws / "duckpipe.duckdb"), read_only=True)
    try:
        have = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        return {t: sorted(con.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) if t in have else None
                for t in POST_RUN}
    finally:
        con.close()


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _assert_equal(got, want):
    for t in POST_RUN:
        assert got[t] is not None and want[t] is not None, t
        assert len(got[t]) == len(want[t]) and len(want[t]) > 0, t
        assert all(_same(x, y) for x, y in zip(got[t], want[t])), t


@pytest.mark.parametrize("where", ["before", "during"])
def test_killed_before_the_aggregates_commit_then_rerun_equals_clean(workspace, ran_template, where):
    want = _tables(ran_template)                             # the same workspace, run without a kill

    res = _kill_run(workspace, where)
    assert res.returncode == -9, res.stderr                  # it really died there
    killed = _tables(workspace)
    assert all(killed[t] is None for t in POST_RUN)          # nothing of the post-run stage committed
    res = duckpipe_inproc("run", "--workspace", str(workspace), "-q")
    assert res.returncode == 0, res.stderr
    _assert_equal(_tables(workspace), want)


def test_parameter_change_killed_before_aggregation_is_not_left_stale(workspace, ran_workspace):
    """After a parameter change the old aggregates exist: a kill must not leave them standing."""
    clean = workspace                                         # ingested, never run
    assert duckpipe_inproc("run", "--workspace", str(clean), "--set", "size_buckets=50,500", "-q").returncode == 0
    want = _tables(clean)

    workspace = ran_workspace                                 # the same input, run with the old buckets
    old = _tables(workspace)
    res = _kill_run(workspace, "before", "--set", "size_buckets=50,500")
    assert res.returncode == -9, res.stderr
    assert _tables(workspace)["agg_by_size"] == old["agg_by_size"]        # the old buckets, still there
    res = duckpipe_inproc("run", "--workspace", str(workspace), "--set", "size_buckets=50,500", "-q")
    assert res.returncode == 0, res.stderr
    _assert_equal(_tables(workspace), want)
    assert _tables(workspace)["agg_by_size"] != old["agg_by_size"]
