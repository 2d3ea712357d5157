"""Post-run tables of another source tree (e.g. the full recompute before partials) against this
tree's, each run on its own copy of one workspace: every agg_*/ts_*/stats_tests row to 1e-9.

Usage: git archive 0de7b00 duckpipe sql | tar -x -C /tmp/old
       python bench/compare_recompute.py WORKSPACE OUT_DIR /tmp/old
p_adjusted is left out of the float comparison when the number of tests with a p-value differs
(Benjamini-Hochberg depends on it); tests whose note differs are listed.
"""
import math
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

ws, out, old_root = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
NEW_ROOT = str(Path(__file__).resolve().parents[1])
TABLES = ["agg_by_security","agg_by_date","agg_by_participant","agg_by_hour","agg_by_size","agg_global","ts_daily","ts_hourly",
          "agg_markouts","agg_markouts_by_group","agg_markouts_by_size","agg_liquidity","agg_liquidity_by_venue","stats_tests"]
SCRIPT = r'''
import sys, duckdb
from pathlib import Path
from duckpipe.settings import resolve
from duckpipe.catalog import open_workspace
from duckpipe.analysis.aggregate import build_aggregates
from duckpipe.analysis.stats import compute_stats
import duckpipe.sqlrender as sr
sr.sql_root = lambda: Path(sys.argv[2]) / "sql"
ws = Path(sys.argv[1])
s = resolve(workspace=ws, memory_limit="1GB", threads=2)
with open_workspace(s, "cmp") as con:
    build_aggregates(con, s); compute_stats(con, s)
'''
res = {}
for name, root in (("old", old_root), ("new", NEW_ROOT)):
    w = out / name
    shutil.rmtree(w, ignore_errors=True)
    shutil.copytree(ws, w, ignore=shutil.ignore_patterns("duckpipe.lock", "status.json"))
    subprocess.run([sys.executable, "-c", SCRIPT, str(w), root], check=True,
                   env={"PYTHONPATH": root, "PATH": "/usr/bin:/bin"}, cwd=str(out))


def rows(w, t):
    con = duckdb.connect(str(w / "duckpipe.duckdb"), read_only=True)
    cols = [d[0] for d in con.execute(f"SELECT * FROM {t} LIMIT 0").description]
    r = con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
    con.close()
    return cols, r


def same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


worst = 0
for t in TABLES:
    (c1, r1), (c2, r2) = rows(out / "old", t), rows(out / "new", t)
    assert c1 == c2, (t, c1, c2)
    assert len(r1) == len(r2), (t, len(r1), len(r2))
    skip = {c1.index("p_adjusted")} if t == "stats_tests" else set()   # BH over a different m (see below)
    if t == "stats_tests":
        note = c1.index("note")
        changed = [(x, y) for x, y in zip(r1, r2) if x[note] != y[note]]
        print(f"stats_tests: {len(changed)} tests with another note:")
        for x, y in changed:
            print("   old", x[:8], x[note], "\n   new", y[:8], y[note])
        keep = [i for i, (x, y) in enumerate(zip(r1, r2)) if x[note] == y[note]]
        r1, r2 = [r1[i] for i in keep], [r2[i] for i in keep]
    bad = [(x, y) for x, y in zip(r1, r2) if not all(same(u, v) for i, (u, v) in enumerate(zip(x, y)) if i not in skip)]
    for x, y in zip(r1, r2):
        for i, (u, v) in enumerate(zip(x, y)):
            if i not in skip and isinstance(u, float) and isinstance(v, float) and not math.isnan(u) and abs(u) > 1e-9:
                worst = max(worst, abs(u - v) / abs(u))
    print(f"{t}: {len(r1)} rows, columns equal, {len(bad)} rows differ beyond 1e-9")
    for x, y in bad[:2]:
        print("   old", x, "\n   new", y)
print(f"largest relative difference of a float (|old| > 1e-9): {worst:.2e}")
