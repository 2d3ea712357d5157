"""Which input file is which: glob characters in paths, one file by two paths, one content
under two names. Each case loaded wrong rows silently (exit 0) before."""
from __future__ import annotations

import datetime as dt
import io
import os
from pathlib import Path

import pytest
from conftest import duckpipe_inproc
from test_ingest import ORDERS_HEADER, order_row, query, run_ingest

from duckpipe.errors import UsageError

DAY_A = 1725494536001032398                     # 2024-09-05 in Sydney
DAY_B = DAY_A + 86_400 * 10**9                  # 2024-09-06
A, B = dt.date(2024, 9, 5), dt.date(2024, 9, 6)


def orders_bytes(n: int, ts: int, offset: int = 0) -> bytes:
    return ORDERS_HEADER + b"\n" + b"\n".join(order_row(offset + i, ts=ts) for i in range(n)) + b"\n"


def write(path: Path, data: bytes, fmt: str = "csv", reverse_columns: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        path.write_bytes(data)
    else:
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq
        t = pacsv.read_csv(io.BytesIO(data))
        if reverse_columns:                      # another schema: a wrong parquet_schema maps columns wrongly
            t = t.select(list(reversed(t.column_names)))
        pq.write_table(t, path)
    return path


def per_date(ws: Path) -> dict:
    return dict(query(ws, "SELECT date, count(*) FROM orders GROUP BY 1"))


def store_files(ws: Path) -> list[str]:
    return sorted(p.relative_to(ws).as_posix() for p in (ws / "store").rglob("*") if p.is_file())


def catalog_files(ws: Path) -> list[str]:
    return sorted(r[0] for r in query(ws, "SELECT path FROM ingest_files"))


# ---------------------------------------------------------------- 1. glob characters

@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("name, other", [("day[1]", "day1"), ("day?", "dayX"), ("d*", "dX")])
def test_a_glob_character_in_a_file_name_reads_that_file_only(tmp_path, fmt, name, other):
    """`day[1].csv` next to `day1.csv`: DuckDB's reader took the name for a pattern and read
    day1.csv (or both) instead; each file now yields its own rows and dates."""
    src = tmp_path / "src"
    write(src / "orders" / f"{name}.{fmt}", orders_bytes(2, DAY_A), fmt)
    write(src / "orders" / f"{other}.{fmt}", orders_bytes(3, DAY_B, offset=10), fmt, reverse_columns=True)
    ws = tmp_path / "ws"
    s = run_ingest(ws, [src])
    assert not s.failed and sorted(f.rows_loaded for f in s.files) == [2, 3]
    assert per_date(ws) == {A: 2, B: 3}
    assert dict(query(ws, "SELECT m.path, sum(f.rows) FROM ingest_files f JOIN ingest_manifest m"
                          " ON f.manifest_path = m.path GROUP BY 1")) == {
        str(src / "orders" / f"{name}.{fmt}"): 2, str(src / "orders" / f"{other}.{fmt}"): 3}


def test_a_glob_character_in_a_source_folder_reads_that_folder_only(tmp_path):
    write(tmp_path / "src [x]" / "orders" / "o.csv", orders_bytes(2, DAY_A))
    write(tmp_path / "src x" / "orders" / "o.csv", orders_bytes(3, DAY_B, offset=10))
    ws = tmp_path / "ws"
    run_ingest(ws, [tmp_path / "src [x]"])
    assert per_date(ws) == {A: 2}


def test_a_glob_character_in_a_reference_file_name_reads_that_file_only(tmp_path):
    src = tmp_path / "src"
    (src / "participants").mkdir(parents=True)
    (src / "participants" / "par[1].csv").write_text("Id,Name\n1,ONE\n")
    (src / "participants" / "par1.csv").write_text("Id,Name\n2,TWO\n3,THREE\n")
    ws = tmp_path / "ws"
    run_ingest(ws, [], {"participants": str(src / "participants" / "par[[]1].csv")})   # glob escape
    assert query(ws, 'SELECT "Id", "Name" FROM participants') == [(1, "ONE")]


def test_a_workspace_path_with_a_glob_character_is_refused(tmp_path):
    """The views name the store files by absolute path: under `ws [a]` they would read `ws a`."""
    write(tmp_path / "src" / "orders" / "o.csv", orders_bytes(2, DAY_A))
    for folder in ("ws [a]", "ws*", "ws?"):
        ws = tmp_path / folder
        res = duckpipe_inproc("ingest", str(tmp_path / "src"), "--workspace", str(ws))
        assert res.returncode == 2, (res.stdout, res.stderr)
        assert f"'{folder}' has a glob character" in res.stderr and "Traceback" not in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1 and not ws.exists()
        with pytest.raises(UsageError, match="glob character"):
            run_ingest(ws, [tmp_path / "src"])


# ---------------------------------------------------------------- 2. one file, two paths

def _linked_sources(tmp_path):
    """base/orders/o.csv (3 rows of DAY_A), and s1/orders: a symlink to base/orders."""
    base, s1 = tmp_path / "base", tmp_path / "s1"
    write(base / "orders" / "o.csv", orders_bytes(3, DAY_A))
    s1.mkdir()
    os.symlink(base / "orders", s1 / "orders")
    return base, s1


def test_a_symlinked_source_folder_loads_each_file_once(tmp_path):
    base, s1 = _linked_sources(tmp_path)
    ws = tmp_path / "ws"
    s = run_ingest(ws, [base, s1])
    assert [f.path for f in s.files] == [str(base / "orders" / "o.csv")]
    assert per_date(ws) == {A: 3}
    s = run_ingest(ws, [s1])                           # later, by the symlink alone: the same file
    assert [(f.path, f.status) for f in s.files] == [(str(base / "orders" / "o.csv"), "skipped_unchanged")]
    assert per_date(ws) == {A: 3}
    assert query(ws, "SELECT path FROM ingest_manifest") == [(str(base / "orders" / "o.csv"),)]


def test_a_source_and_a_glob_naming_the_same_file_load_it_once(tmp_path):
    """The glob's matches are resolved (base/...), the SOURCE's files are not (s1/orders/...)."""
    base, s1 = _linked_sources(tmp_path)
    ws = tmp_path / "ws"
    s = run_ingest(ws, [s1], {"orders": str(s1 / "orders" / "*.csv")})
    assert [f.path for f in s.files] == [str(s1 / "orders" / "o.csv")] and per_date(ws) == {A: 3}


def test_a_changed_file_reached_by_its_symlink_replaces_its_rows(tmp_path):
    base, s1 = _linked_sources(tmp_path)
    ws = tmp_path / "ws"
    run_ingest(ws, [base])
    write(base / "orders" / "o.csv", orders_bytes(5, DAY_B))
    s = run_ingest(ws, [s1])
    assert [(f.path, f.status) for f in s.files] == [(str(base / "orders" / "o.csv"), "loaded")]
    assert per_date(ws) == {B: 5}


# ---------------------------------------------------------------- 3. one content, two names

@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_renamed_file_is_recorded_under_its_new_name_without_new_rows(tmp_path, fmt):
    src = tmp_path / "src"
    old = write(src / "orders" / f"o.{fmt}", orders_bytes(3, DAY_A), fmt)
    ws = tmp_path / "ws"
    run_ingest(ws, [src])
    before = store_files(ws)
    new = old.rename(old.with_name(f"renamed.{fmt}"))
    (f,) = run_ingest(ws, [src]).files
    assert (f.path, f.status) == (str(new), "renamed") and str(old) in f.note
    assert per_date(ws) == {A: 3}
    assert query(ws, "SELECT path, rows_loaded FROM ingest_manifest") == [(str(new), 3)]
    assert set(r[0] for r in query(ws, "SELECT DISTINCT manifest_path FROM ingest_files")) == {str(new)}
    assert store_files(ws) == before == catalog_files(ws)
    (f,) = run_ingest(ws, [src]).files
    assert f.status == "skipped_unchanged" and per_date(ws) == {A: 3}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_an_identical_copy_under_another_name_is_skipped_with_a_warning(tmp_path, fmt, caplog):
    src = tmp_path / "src"
    a = write(src / "orders" / f"a.{fmt}", orders_bytes(3, DAY_A), fmt)
    copy = src / "orders" / f"a (1).{fmt}"
    copy.write_bytes(a.read_bytes())
    write(src / "orders" / f"b.{fmt}", orders_bytes(2, DAY_B, offset=10), fmt)
    ws = tmp_path / "ws"
    s = run_ingest(ws, [src])
    assert per_date(ws) == {A: 3, B: 2}
    by_status = {f.status: f for f in s.files}
    dup = by_status["skipped_duplicate"]
    first = str(copy) if dup.path == str(a) else str(a)
    assert dup.note == f"skipped (same content as {first})" and dup.rows_loaded == 0
    assert any("same content as" in r.getMessage() and dup.path in r.getMessage() and first in r.getMessage()
               and r.levelname == "WARNING" for r in caplog.records)
    assert store_files(ws) == catalog_files(ws)          # the copy's store files are gone
    assert dup.path not in {r[0] for r in query(ws, "SELECT path FROM ingest_manifest")}
    run_ingest(ws, [src])
    assert per_date(ws) == {A: 3, B: 2} and store_files(ws) == catalog_files(ws)


def test_a_file_changed_into_a_copy_of_another_drops_its_old_rows(tmp_path):
    src = tmp_path / "src"
    a = write(src / "orders" / "a.csv", orders_bytes(3, DAY_A))
    b = write(src / "orders" / "b.csv", orders_bytes(2, DAY_B, offset=10))
    ws = tmp_path / "ws"
    run_ingest(ws, [src])
    b.write_bytes(a.read_bytes())
    s = run_ingest(ws, [src])
    assert {f.path: f.status for f in s.files} == {str(a): "skipped_unchanged", str(b): "skipped_duplicate"}
    assert per_date(ws) == {A: 3} and store_files(ws) == catalog_files(ws)


def test_a_copy_of_a_file_changed_since_is_loaded_not_skipped(tmp_path):
    """b.csv is copied to a.csv, then b.csv gets new rows: a.csv holds content the catalog knows
    under b.csv, but b.csv no longer holds it. Both load as what they are (a.csv was skipped as a
    copy, b.csv reloaded, and a.csv's rows were in the store nowhere)."""
    src = tmp_path / "src"
    b = write(src / "orders" / "b.csv", orders_bytes(3, DAY_A))
    ws = tmp_path / "ws"
    run_ingest(ws, [src])
    a = src / "orders" / "a.csv"
    a.write_bytes(b.read_bytes())
    write(b, orders_bytes(2, DAY_B, offset=10))
    s = run_ingest(ws, [src])
    assert {f.path: f.status for f in s.files} == {str(a): "loaded", str(b): "loaded"}
    assert per_date(ws) == {A: 3, B: 2} and store_files(ws) == catalog_files(ws)


def test_the_cli_summary_names_the_earlier_file(tmp_path):
    src = tmp_path / "src"
    a = write(src / "orders" / "a.csv", orders_bytes(3, DAY_A))
    (src / "orders" / "z.csv").write_bytes(a.read_bytes())
    res = duckpipe_inproc("ingest", str(src), "--workspace", str(tmp_path / "ws"))
    assert res.returncode == 0, (res.stdout, res.stderr)
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("skipped_duplicate"))
    assert line.endswith(f"{src / 'orders' / 'z.csv'}  skipped (same content as {a})")
