"""Results written as partitions (SPEC §4): files under results/, a manifest, views, exactly once."""
from __future__ import annotations

import shutil
import subprocess
import sys

import duckdb
import pytest
from conftest import REPO, duckpipe_inproc

from duckpipe import api, results
from duckpipe.engine import runner
from duckpipe.settings import resolve


def _settings(ws):
    return resolve(workspace=ws, memory_limit="1GB", threads=2, env={})


def _query(ws, sql, cwd=None):
    """What any DuckDB client sees (read-only, from another working directory)."""
    code = ("import duckdb, sys, json; con = duckdb.connect(sys.argv[1], read_only=True);"
            " print(json.dumps(con.execute(sys.argv[2]).fetchall(), default=str))")
    res = subprocess.run([sys.executable, "-c", code, str(ws / "duckpipe.duckdb"), sql], capture_output=True,
                         text=True, cwd=cwd or "/")
    assert res.returncode == 0, res.stderr
    import json
    return json.loads(res.stdout)


def _parquet_files(ws):
    return sorted(p.relative_to(ws).as_posix() for p in (ws / "results").rglob("*") if p.is_file())


def _committed(ws):
    return sorted(p for (p,) in _query(ws, "SELECT path FROM result_parts"))


def _counts(ws):
    return _query(ws, "SELECT * FROM unit_counts ORDER BY security_code, date")


def test_result_tables_are_views_over_committed_files(workspace, tmp_path, monkeypatch):
    monkeypatch.setattr(results, "COMPACT_SMALL_FILES", 2)    # every date with 2+ small files merged
    api.run(_settings(workspace), strategy="by-unit", pipeline="counts", quiet=True)
    n_units = _query(workspace, "SELECT count(*) FROM units")[0][0]
    assert _query(workspace, "SELECT count(*) FROM duckdb_views() WHERE view_name = 'unit_counts'")[0][0] == 1
    rows = _counts(workspace)
    assert len(rows) == n_units and len({(r[0], r[1]) for r in rows}) == n_units
    # the store agrees with what the view shows
    assert sum(r[2] for r in rows) == _query(workspace, "SELECT count(*) FROM orders")[0][0]
    files = _parquet_files(workspace)
    assert files == _committed(workspace) and files
    assert all(f.startswith("results/unit_counts/date=") and f.endswith(".parquet") for f in files)
    # by-unit batches wrote a few units to a file; the end-of-run compaction left one per date
    n_dates = _query(workspace, "SELECT count(DISTINCT date) FROM units")[0][0]
    assert len(files) == n_dates
    assert _query(workspace, "SELECT sum(rows) FROM result_files")[0][0] == n_units


def test_rerun_replaces_exactly_the_units_rows_also_in_a_shared_file(workspace, monkeypatch):
    monkeypatch.setattr(results, "COMPACT_MIN_FILES", 10**9)       # keep the partly superseded files
    monkeypatch.setattr(results, "COMPACT_SMALL_BYTES", 0)
    s = _settings(workspace)
    api.run(s, strategy="by-date", pipeline="counts", quiet=True)
    before = _counts(workspace)
    first = _committed(workspace)
    from duckpipe.engine.units import parse_selection
    api.run(s, parse_selection(units="1,2"), strategy="by-unit", rerun="all", pipeline="counts", quiet=True)
    assert _counts(workspace) == before                      # each unit once, same values
    after = _committed(workspace)
    rerun_dates = {d for d, p in _query(workspace, "SELECT date, path FROM result_files") if p not in first}
    # the two one-unit batches are written together: one new file per date of theirs
    assert set(first) < set(after) and len(after) == len(first) + len(rerun_dates) and rerun_dates
    view = _query(workspace, "SELECT sql FROM duckdb_views() WHERE view_name = 'unit_counts'")[0][0]
    assert "SEMI JOIN" in view                               # the shared file of date 1 is filtered
    # the rerun units' rows are read from their new files only
    src = _query(workspace, "SELECT security_code, date, path FROM result_files ORDER BY date, security_code"
                            " LIMIT 2")
    assert all(p not in first for _, _, p in src)


def test_compaction_merges_small_files_and_keeps_rows(workspace, monkeypatch):
    s = _settings(workspace)
    monkeypatch.setattr(results, "COMPACT_SMALL_FILES", 2)
    api.run(s, strategy="by-unit", pipeline="counts", quiet=True)
    rows = _counts(workspace)
    dates = _query(workspace, "SELECT count(DISTINCT date) FROM units")[0][0]
    assert len(_parquet_files(workspace)) == dates              # one file per date
    monkeypatch.undo()
    from duckpipe.engine.units import parse_selection
    n, last = _query(workspace, "SELECT count(*), max(date) FROM units")[0]
    on_last = _query(workspace, f"SELECT count(*) FROM units WHERE date = DATE '{last}'")[0][0]
    assert on_last >= results.COMPACT_SMALL_FILES

    def files_of_last_date():
        return [f for f in _parquet_files(workspace) if f"/date={last}/" in f]

    # a one-unit rerun leaves its date two small files: not worth a rewrite yet
    api.run(s, parse_selection(units=str(n)), strategy="by-unit", rerun="all", pipeline="counts", quiet=True)
    assert _counts(workspace) == rows and len(files_of_last_date()) == 2
    # reruns of other units of that date add a file each; the fourth small file merges them into one
    for k in range(1, results.COMPACT_SMALL_FILES - 1):
        api.run(s, parse_selection(units=str(n - k)), strategy="by-unit", rerun="all", pipeline="counts", quiet=True)
        assert len(files_of_last_date()) == (k + 2 if k + 2 < results.COMPACT_SMALL_FILES else 1)
    assert _counts(workspace) == rows and len(_parquet_files(workspace)) == dates   # garbage removed


# `duckpipe run` that SIGKILLs itself on entering the 3rd commit: its result files are written, its
# catalog transaction not begun (by-unit: each commit holds HOLD_UNITS one-unit batches).
KILL_AT_THIRD_COMMIT = """
import os, signal, sys
from duckpipe import cli
from duckpipe.engine import runner
real, calls = runner.Engine.commit, []
def commit(self, *a, **k):
    calls.append(1)
    if len(calls) == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(self, *a, **k)
runner.Engine.commit = commit
sys.argv = ["duckpipe", "run", *sys.argv[1:]]
cli.main()
"""


def test_kill_between_file_write_and_commit_leaves_an_invisible_orphan_then_resumes(workspace, tmp_path):
    reference = tmp_path / "reference"
    shutil.copytree(workspace, reference)
    assert duckpipe_inproc("run", "--workspace", str(reference), "--pipeline", "counts", "--strategy", "by-unit",
                           "-q").returncode == 0
    proc = subprocess.run([sys.executable, "-c", KILL_AT_THIRD_COMMIT, "--workspace", str(workspace), "--pipeline",
                           "counts", "--strategy", "by-unit", "-q"], cwd=REPO, capture_output=True)
    assert proc.returncode == -9
    committed = set(_committed(workspace))
    on_disk = set(_parquet_files(workspace))
    orphans = on_disk - committed
    # the third commit's files (one per date of its held units) were written, never committed
    assert committed and orphans
    done = _query(workspace, "SELECT count(*) FROM units WHERE status = 'done'")[0][0]
    assert done == 2 * runner.HOLD_UNITS
    # the next command (here: units) rebuilds the views over the committed files and removes the orphans
    assert duckpipe_inproc("units", "--workspace", str(workspace), "--pipeline", "counts").returncode == 0
    assert len(_counts(workspace)) == done
    assert set(_parquet_files(workspace)) == committed
    assert duckpipe_inproc("run", "--workspace", str(workspace), "--pipeline", "counts", "--strategy", "by-unit",
                           "-q").returncode == 0
    assert _counts(workspace) == _counts(reference)


def test_fresh_drops_the_result_files(workspace):
    s = _settings(workspace)
    api.run(s, strategy="by-date", pipeline="counts", quiet=True)
    first = set(_committed(workspace))
    rows = _counts(workspace)
    api.run(s, strategy="by-date", pipeline="counts", fresh=True, yes=True, quiet=True)
    assert _counts(workspace) == rows
    assert not first & set(_parquet_files(workspace))           # every file of the first run is gone
    assert set(_parquet_files(workspace)) == set(_committed(workspace))


def test_moved_workspace_views_are_repointed(workspace, tmp_path):
    api.run(_settings(workspace), strategy="by-date", pipeline="counts", quiet=True)
    rows = _counts(workspace)
    moved = tmp_path / "moved"
    shutil.move(str(workspace), moved)
    assert duckpipe_inproc("units", "--workspace", str(moved), "--pipeline", "counts").returncode == 0
    view = _query(moved, "SELECT sql FROM duckdb_views() WHERE view_name = 'unit_counts'")[0][0]
    assert str(moved) in view and str(workspace) not in view
    assert _counts(moved) == rows


def test_catalog_with_result_tables_from_before_is_converted(workspace):
    s = _settings(workspace)
    api.run(s, strategy="by-date", pipeline="counts", quiet=True)
    rows = _counts(workspace)
    con = duckdb.connect(str(workspace / "duckpipe.duckdb"))        # an older catalog: results in a table
    con.execute("DROP VIEW unit_counts")
    con.execute("CREATE TABLE unit_counts AS SELECT * FROM read_parquet("
                f"'{workspace}/results/unit_counts/*/*.parquet')")
    con.execute("DELETE FROM result_files")
    con.close()
    res = api.run(s, strategy="by-date", pipeline="counts", quiet=True)
    assert res.done == len(rows)                                  # recomputed once, as files
    assert _counts(workspace) == rows
    assert _query(workspace, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'unit_counts'")[0][0] == 0


def test_view_types_follow_the_pipeline_ddl():
    cols = results.columns_from_ddl("testing/catalog_counts.sql")["unit_counts"]
    sql = results.select_sql(cols, [], [], [])
    con = duckdb.connect()
    got = con.execute(f"DESCRIBE {sql}").fetchall()
    assert [(r[0], r[1]) for r in got] == cols
    with pytest.raises(ValueError):
        results._valid_type("INTEGER); DROP TABLE units; --")


def test_a_filter_on_date_opens_only_that_dates_files(workspace, tmp_path):
    """The views prune by the `date=` folder: the partials of a one-unit rerun read one date's files,
    not every footer of the table. Shown by spoiling every other date's files: the query still runs."""
    api.run(_settings(workspace), strategy="by-date", pipeline="counts", quiet=True)
    dates = [d for (d,) in _query(workspace, "SELECT DISTINCT date FROM unit_counts ORDER BY date")]
    keep = dates[len(dates) // 2]
    expected = _query(workspace, f"SELECT * FROM unit_counts WHERE date = DATE '{keep}' ORDER BY ALL")
    assert expected
    for d in dates[1:]:                              # the first file is opened for the schema
        if d != keep:
            for f in (workspace / "results" / "unit_counts" / f"date={d}").iterdir():
                f.write_bytes(b"not a parquet file")
    assert _query(workspace, f"SELECT * FROM unit_counts WHERE date = DATE '{keep}' ORDER BY ALL") == expected
    res = subprocess.run([sys.executable, "-c", "import duckdb, sys; duckdb.connect(sys.argv[1], read_only=True)"
                          ".execute('SELECT count(*) FROM unit_counts').fetchall()", str(workspace / "duckpipe.duckdb")],
                         capture_output=True, text=True)
    assert res.returncode != 0 and "parquet" in res.stderr.lower()   # an unfiltered scan does open them


@pytest.mark.parametrize("folder", ["date=2024-09-02", "security_code=7"])
@pytest.mark.parametrize("command", ["run", "status", "report"])
def test_a_workspace_under_a_name_value_folder_is_refused(workspace, tmp_path, folder, command):
    """DuckDB reads every `name=value` folder of a path as a column (the views read `date=` that
    way), so under `security_code=7/` every row would show security 7: refused, one line, exit 2."""
    moved = tmp_path / folder / "ws"
    moved.parent.mkdir()
    shutil.move(workspace, moved)
    before = sorted(p.relative_to(moved).as_posix() for p in moved.rglob("*"))
    res = duckpipe_inproc(command, "--workspace", str(moved))
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert f"'{folder}' is named like a partition" in res.stderr and "Traceback" not in res.stderr
    assert sorted(p.relative_to(moved).as_posix() for p in moved.rglob("*")) == before


def test_ingest_into_a_workspace_under_a_name_value_folder_creates_nothing(tmp_path, raw_small):
    ws = tmp_path / "exchange=ASX" / "ws"
    res = duckpipe_inproc("ingest", str(raw_small), "--workspace", str(ws))
    assert res.returncode == 2 and "'exchange=ASX' is named like a partition" in res.stderr, res.stderr
    assert not (tmp_path / "exchange=ASX").exists()
