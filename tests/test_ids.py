"""Order ids above 2^53 survive CSV -> store -> view -> result tables exactly (never a float)."""
from __future__ import annotations

import duckdb
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from duckpipe import catalog
from duckpipe.ingest.load import ingest
from duckpipe.settings import resolve

HEADER = ("order_id,timestamp,security_code,price,side,orderstatus,quantity,leavesquantity,"
          "exchangeordertype,participantid,totalmatchedquantity,row_num\n")
TS = 1725494536001032398       # 2024-09-05 10:02 Sydney


@hsettings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(2**53 + 1, 2**64 - 1), min_size=1, max_size=30, unique=True))
def test_ubigint_ids_round_trip_exactly(tmp_path_factory, ids):
    root = tmp_path_factory.mktemp("ids")
    (root / "raw" / "orders").mkdir(parents=True)
    lines = [f"{oid},{TS + i},110621,3340,1,1,100,100,2048,54,0,{i + 1}\n" for i, oid in enumerate(ids)]
    (root / "raw" / "orders" / "o.csv").write_text(HEADER + "".join(lines))
    st_ = resolve(workspace=root / "ws", memory_limit="512MB", threads=1, env={})
    with catalog.open_workspace(st_, "ingest") as con:
        summary = ingest(con, st_, [root / "raw"])
        assert summary.rows_loaded == len(ids) and summary.rows_rejected == 0
        got = con.execute("SELECT order_id FROM orders ORDER BY row_num").fetchall()
        kind = con.execute("SELECT typeof(order_id) FROM orders LIMIT 1").fetchone()[0]
    assert [g for (g,) in got] == ids
    assert kind == "UBIGINT"


def test_ids_in_result_tables_stay_exact(tmp_path):
    """The analysis keeps ids as UBIGINT: compare the text of the ids in sweeps with the raw file."""
    from duckpipe import api
    from duckpipe.synth import synth
    synth(tmp_path / "raw", securities=1, days=1, orders_per_unit=50, seed=3)
    st_ = resolve(workspace=tmp_path / "ws", memory_limit="512MB", threads=1, env={})
    api.ingest(st_, [tmp_path / "raw"])
    api.run(st_, quiet=True)
    con = duckdb.connect(str(st_.db_path), read_only=True)
    ids = {str(i) for (i,) in con.execute("SELECT order_id FROM sweeps").fetchall()}
    typ = con.execute("SELECT typeof(order_id) FROM sweeps LIMIT 1").fetchone()[0]
    con.close()
    raw_ids = {line.split(",", 1)[0] for f in (tmp_path / "raw" / "orders").glob("*.csv")
               for line in f.read_text().splitlines()[1:]}
    assert ids and ids <= raw_ids and typ == "UBIGINT"
    assert all(int(i) > 2**53 for i in ids)
