"""Store layout and views: pruning by date file and security row groups, views on any connection."""
from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from duckpipe import catalog, store
from duckpipe.ingest import load as ing
from duckpipe.settings import resolve

HEADER = (b"order_id,timestamp,security_code,price,side,orderstatus,quantity,leavesquantity,"
          b"exchangeordertype,participantid,totalmatchedquantity,row_num")
DAY = 86_400 * 10**9
T0 = 1725494536001032398          # 2024-09-05 10:02 Sydney


def make_orders(path: Path, secs=(7, 3, 5), per=3000, days=2) -> None:
    """Rows interleaved across securities and dates, so the sort has real work to do."""
    lines = [HEADER]
    for i in range(per):
        for d in range(days):
            for s in secs:
                lines.append(f"{9_000_000_000_000_000_000 + i},{T0 + d * DAY + (per - i) * 1000},{s},"
                             f"3340,1,1,100,100,64,54,0,{i}".encode())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\n".join(lines) + b"\n")


@pytest.fixture
def ingested(tmp_path, monkeypatch):
    monkeypatch.setattr(ing, "ROW_GROUP_SIZE", 2048)     # several row groups with small data
    make_orders(tmp_path / "src" / "orders" / "o.csv")
    st = resolve(workspace=tmp_path / "ws", memory_limit="1GB", threads=2, env={})
    with catalog.open_workspace(st, "ingest") as con:
        ing.ingest(con, st, [tmp_path / "src"])
    return st


def profile(con: duckdb.DuckDBPyConnection, sql: str, out: Path) -> dict:
    con.execute("PRAGMA enable_profiling='json'")
    con.execute(f"PRAGMA profiling_output='{out}'")
    con.execute(sql).fetchall()
    con.execute("PRAGMA disable_profiling")
    doc = json.loads(out.read_text())
    scans = []

    def walk(n):
        if n.get("type") == "TABLE_SCAN":
            scans.append(n)
        for c in n.get("children", []):
            walk(c)
    for op in doc["operator"]:
        walk(op)
    assert len(scans) == 1
    return scans[0]


def test_store_layout_sorted_and_pruned(ingested, tmp_path):
    st = ingested
    with catalog.open_workspace(st, "test") as con:
        files = store.store_files(con)["orders"]
        assert [Path(f).parent.name for f in files] == ["date=2024-09-05", "date=2024-09-06"]
        f = files[0]
        groups = con.execute(
            "SELECT row_group_id, stats_min::INT, stats_max::INT FROM parquet_metadata($f)"
            " WHERE path_in_schema = 'security_code' ORDER BY 1", {"f": f}).fetchall()
        assert len(groups) >= 4
        # sorted by security then time within the date file
        bad = con.execute("SELECT count(*) FROM (SELECT security_code s, timestamp t, lag(security_code) OVER w ps,"
                          " lag(timestamp) OVER w pt FROM read_parquet($f, file_row_number=true)"
                          " WINDOW w AS (ORDER BY file_row_number)) WHERE s < ps OR (s = ps AND t < pt)",
                          {"f": f}).fetchone()[0]
        assert bad == 0
        overlapping = [g for g in groups if g[1] <= 5 <= g[2]]
        assert 0 < len(overlapping) < len(groups)
        scan = profile(con, "SELECT count(*) FROM orders WHERE date = DATE '2024-09-05' AND security_code = 5",
                       tmp_path / "prof.json")
        assert scan["extra_info"]["Scanning Files"] == "1/2"
        assert scan["row_groups_scanned"] <= len(overlapping)
        assert con.execute("SELECT count(*) FROM orders WHERE date = DATE '2024-09-05'"
                           " AND security_code = 5").fetchone()[0] == 3000


def test_views_on_memory_connection_with_subset(ingested):
    with catalog.open_workspace(ingested, "test") as con:
        subset = store.store_files(con, dates=[__import__("datetime").date(2024, 9, 6)])
    mem = duckdb.connect()
    store.create_views(mem, subset)
    assert mem.execute("SELECT count(*), min(date), max(date) FROM orders").fetchone()[0] == 9000
    assert str(mem.execute("SELECT min(date) FROM orders").fetchone()[0]) == "2024-09-06"
    types = dict(mem.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'orders'").fetchall())
    assert types["order_id"] == "UBIGINT" and types["date"] == "DATE" and types["seq"] == "BIGINT"
    assert mem.execute("SELECT count(*) FROM trades").fetchone()[0] == 0
    ttypes = dict(mem.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'trades'").fetchall())
    assert ttypes["orderid"] == "UBIGINT" and ttypes["tradedate"] == "DATE" and ttypes["security_code"] == "INTEGER"


def test_order_ids_above_2_53_roundtrip(ingested):
    with catalog.open_workspace(ingested, "test") as con:
        ids = [r[0] for r in con.execute("SELECT DISTINCT order_id FROM orders ORDER BY 1 LIMIT 3").fetchall()]
    assert ids == [9_000_000_000_000_000_000, 9_000_000_000_000_000_001, 9_000_000_000_000_000_002]


def test_orphans_removed_and_never_visible(ingested):
    st = ingested
    orphan = st.store_dir / "orders" / "date=2024-09-05" / "deadbeef.parquet"
    orphan.write_bytes(b"not parquet")
    with catalog.open_workspace(st, "test") as con:
        assert con.execute("SELECT count(*) FROM orders").fetchone()[0] == 18000
        assert ing.clean_orphans(con, st.store_dir) == 1
    assert not orphan.exists()


def test_moved_workspace_reads_its_own_store(tmp_path, monkeypatch):
    """Store paths are workspace-relative: a copied workspace, original deleted, still works."""
    import shutil

    from typer.testing import CliRunner

    from duckpipe.cli import app
    from duckpipe.synth import synth
    raw = tmp_path / "raw"
    synth(raw, securities=2, days=2, orders_per_unit=30, seed=5)
    old, new = tmp_path / "old", tmp_path / "moved" / "ws"
    st = resolve(workspace=old, memory_limit="1GB", threads=2, env={})
    with catalog.open_workspace(st, "ingest") as con:
        ing.ingest(con, st, [raw])
        want = con.execute("SELECT count(*), sum(order_id::HUGEINT) FROM orders").fetchone()
        n_parts = con.execute("SELECT count(*) FROM store_partitions").fetchone()[0]
        n_units = con.execute("SELECT count(*) FROM store_partitions WHERE table_name = 'orders'").fetchone()[0]
        assert all(not Path(p).is_absolute() for (p,) in con.execute("SELECT path FROM ingest_files").fetchall())
        assert all(not Path(p).is_absolute() for (p,) in
                   con.execute("SELECT file_path FROM ingest_partitions").fetchall())
    runner = CliRunner()
    before = runner.invoke(app, ["units", "--workspace", str(old)])
    assert before.exit_code == 0, before.output
    shutil.copytree(old, new)
    shutil.rmtree(old)
    after = runner.invoke(app, ["units", "--workspace", str(new)])
    assert after.exit_code == 0, after.output
    assert after.stdout == before.stdout       # stderr carries the "workspace moved" log line
    st2 = resolve(workspace=new, memory_limit="1GB", threads=2, env={})
    with catalog.open_workspace(st2, "test") as con:
        files = store.store_files(con)          # absolute, under the new folder; repoints the views
        assert files and all(Path(p).is_absolute() and Path(p).is_file() and Path(p).is_relative_to(new)
                             for paths in files.values() for p in paths)
        assert con.execute("SELECT count(*), sum(order_id::HUGEINT) FROM orders").fetchone() == want
        assert con.execute("SELECT count(*) FROM trades").fetchone()[0] > 0
        assert con.execute("SELECT count(*) FROM store_partitions").fetchone()[0] == n_parts
        assert not store.heal_views(con)        # already repointed
    mem = duckdb.connect()
    store.create_views(mem, files)
    assert mem.execute("SELECT count(*), sum(order_id::HUGEINT) FROM orders").fetchone() == want
    run = runner.invoke(app, ["run", "--workspace", str(new), "--memory-limit", "1GB", "--threads", "2", "-q"])
    assert run.exit_code == 0, run.output
    monkeypatch.chdir(tmp_path)                 # any DuckDB client, from any folder, reads the views
    outside = duckdb.connect(str(new / "duckpipe.duckdb"), read_only=True)
    try:
        assert outside.execute("SELECT count(*), sum(order_id::HUGEINT) FROM orders").fetchone() == want
        done = outside.execute("SELECT count(*) FROM units WHERE status = 'done'").fetchone()[0]
    finally:
        outside.close()
    assert done == n_units > 0


def test_views_repointed_when_workspace_moves_before_any_engine_call(ingested, tmp_path):
    """Opening a moved workspace for writing repoints the catalog's views at once."""
    import shutil
    new = tmp_path / "elsewhere"
    shutil.copytree(ingested.workspace, new)
    shutil.rmtree(ingested.workspace)
    st = resolve(workspace=new, memory_limit="1GB", threads=2, env={})
    with catalog.open_workspace(st, "ingest") as con:
        assert not store.heal_views(con)        # open_workspace already repointed them
        assert con.execute("SELECT count(*) FROM orders").fetchone()[0] == 18000


def test_slice_checksums_equal_a_direct_hash_of_the_store(tmp_path, monkeypatch):
    """Checksums summed batch by batch (here > 256 batches, so partial sums are compacted)
    equal sum(hash(row)) per (security, date) computed from the store files."""
    monkeypatch.setattr(ing, "ROW_GROUP_SIZE", 16)
    make_orders(tmp_path / "src" / "orders" / "o.csv", per=800)
    st = resolve(workspace=tmp_path / "ws", memory_limit="1GB", threads=2, env={})
    from duckpipe.profiles import get_profile
    cols = ", ".join(f'"{n}"' for n, _ in get_profile("asx").tables["orders"].store_columns())
    with catalog.open_workspace(st, "ingest") as con:
        ing.ingest(con, st, [tmp_path / "src"])
        got = con.execute("SELECT security_code, date, rows, hash_sum FROM ingest_partitions"
                          " WHERE table_name = 'orders' ORDER BY 1, 2").fetchall()
        want = con.execute(f"SELECT security_code, date, count(*), sum(hash({cols})::HUGEINT)"
                           " FROM orders GROUP BY ALL ORDER BY 1, 2").fetchall()
    assert got == want and len(got) == 6 and sum(r[2] for r in got) == 4800
