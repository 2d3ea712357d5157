"""Provenance that is true (issue 8, item 4): the SQL shown under every report table is the query
that made it. A reader pastes it into ``duckdb duckpipe.duckdb``: here a fresh read-only connection
to the workspace runs the SQL as the page shows it and must get the table back, with the same
columns, the same values and the same order; and the page's cells are that result, formatted.

The workspace is real (synth -> ingest -> run on the session's small raw data), with the last date
left pending, and the report is built twice: over every done unit and with a --securities /
--dates selection, whose scope must be inside the shown SQL (a reader has no report session).
"""
from __future__ import annotations

import math
import shutil

import duckdb
import pytest
from conftest import duckpipe_cli
from report_html import figures, md_tables

from duckpipe import api
from duckpipe.engine.units import parse_selection
from duckpipe.settings import resolve

# Every table of a report over a full run (titles as the page shows them).
EXPECTED = {"Units", "Sweep groups", "Scenario costs", "Real versus simulated, set-A sweeps",
            "Simulation outcome: set A (matched) and set B (not matched, by reason)",
            "Markout curves by source, venue and horizon", "Liquidity by venue class",
            "Liquidity by security and venue", "Global tests, all sweeps", "Global summary",
            "By hour of arrival (Sydney)", "By size bucket", "By participant", "By security", "By date",
            "Costliest sweeps (trace them to orders and trades)", "Stages of the last run", "Slowest units",
            "Runs"}


@pytest.fixture(scope="module")
def ran(tmp_path_factory, ingested_template):
    """A copy of the ingested small workspace, run on every date but the last (left pending)."""
    ws = tmp_path_factory.mktemp("provenance") / "ws"
    shutil.copytree(ingested_template, ws, ignore=shutil.ignore_patterns("duckpipe.lock", "status.json"))
    con = duckdb.connect(str(ws / "duckpipe.duckdb"), read_only=True)
    try:
        part = "FROM ingest_partitions WHERE table_name = 'orders' ORDER BY 1"     # the units are not synced yet
        codes = [r[0] for r in con.execute(f"SELECT DISTINCT security_code {part}").fetchall()]
        dates = [r[0] for r in con.execute(f"SELECT DISTINCT date {part}").fetchall()]
    finally:
        con.close()
    res = duckpipe_cli("run", "--workspace", str(ws), "--dates", f"{dates[0]}..{dates[-2]}", "-q")
    assert res.returncode == 0, res.stderr
    return ws, codes, dates


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)
    return a == b and type(a) is type(b)


def check_provenance(result, db_path) -> dict[str, list[tuple]]:
    """Rerun the SQL shown under every table of ``result`` as a reader would; {title: rows}."""
    html = result.html.read_text()
    md = result.markdown.read_text() + result.performance.read_text()
    page = {f.title: f for f in figures(html)}
    tables = {t.title: t for t in result.tables}
    assert len(tables) == len(result.tables)                     # titles name tables
    assert set(page) <= set(tables), set(page) - set(tables)      # no table on the page without a query
    con = duckdb.connect(str(db_path), read_only=True)            # fresh: no temp tables, no session
    out = {}
    try:
        for title, t in tables.items():
            shown = page[title].sql if title in page else t.sql
            assert shown == t.sql, title                           # the page shows the recorded query
            cur = con.execute(shown)
            cols, rows = [d[0] for d in cur.description], cur.fetchall()
            assert cols == t.columns, title
            assert len(rows) == len(t.data) and all(
                len(r) == len(s) and all(_same(a, b) for a, b in zip(r, s)) for r, s in zip(rows, t.data)), title
            again = t.shape(cols, rows)                            # the rerun, formatted as the report does
            assert (again.headers, again.rows, again.highlight) == (t.headers, t.rows, t.highlight), title
            if title in page:                                      # and that is what the page shows
                assert (page[title].headers, page[title].rows) == (t.headers, t.rows), title
            else:                                                  # report.md-only table
                assert f"```sql\n{t.sql}\n```" in md, title
            out[title] = rows
    finally:
        con.close()
    for mt in md_tables(md):                                       # the Markdown tables are the same tables
        if mt.title in tables and tables[mt.title].rows:
            limit = len(mt.rows)
            assert mt.rows == [[c.replace("\\|", "|") for c in r] for r in tables[mt.title].rows[:limit]], mt.title
            assert f"```sql\n{tables[mt.title].sql}\n```" in md, mt.title
    return out


def test_every_shown_query_reproduces_its_table(ran):
    ws, _, _ = ran
    settings = resolve(workspace=ws, memory_limit="1GB", threads=2, env={})
    r = api.report(settings, ws / "out-all")
    assert r.warnings == [], r.warnings
    assert EXPECTED <= {t.title for t in r.tables}, EXPECTED - {t.title for t in r.tables}
    rows = check_provenance(r, settings.db_path)
    statuses = {s for _, _, s, *_ in rows["Units"]}
    assert "done" in statuses and statuses - {"done"}              # the pending date is listed, not counted
    assert rows["Sweep groups"] and rows["Markout curves by source, venue and horizon"]


def test_the_selection_is_part_of_the_shown_query(ran):
    """With --securities / --dates the scope lives in the shown SQL: a fresh connection gets the
    selection's rows, which differ from the unfiltered ones."""
    ws, codes, dates = ran
    settings = resolve(workspace=ws, memory_limit="1GB", threads=2, env={})
    picked_codes, picked_dates = codes[:2], [dates[1], dates[3], dates[-1]]      # the last date is pending
    sel = parse_selection(",".join(map(str, picked_codes)), ",".join(d.isoformat() for d in picked_dates))
    r = api.report(settings, ws / "out-sel", sel)
    rows = check_provenance(r, settings.db_path)
    assert {(c, d) for c, d, *_ in rows["Units"]} == {(c, d) for c in picked_codes for d in picked_dates}
    groups = next(t for t in r.tables if t.title == "Sweep groups")
    assert f"u.security_code IN ({', '.join(map(str, picked_codes))})" in groups.sql
    assert all(f"DATE '{d.isoformat()}'" in groups.sql for d in picked_dates)
    everything = api.report(settings, ws / "out-all2")
    all_groups = next(t for t in everything.tables if t.title == "Sweep groups")
    assert groups.data != all_groups.data and groups.data[-1][1] < all_groups.data[-1][1]   # fewer sweeps
    top = {(c, d) for c, d, *_ in rows["Costliest sweeps (trace them to orders and trades)"]}
    assert top and top <= {(c, d) for c in picked_codes for d in picked_dates[:2]}


def test_shown_queries_leave_out_a_failed_units_rows(tmp_path, monkeypatch):
    """The hand-made catalog of test_report has a failed unit whose half-written rows are in the
    result tables: the shown SQL carries the done-units scope, so a reader's rerun leaves them out."""
    from test_report import make_catalog

    from duckpipe.report.build import build_report
    monkeypatch.setattr("duckpipe.report.build.build_charts", lambda sec: None)
    con, settings = make_catalog(tmp_path / "ws")
    try:
        r = build_report(con, settings, tmp_path / "out")
    finally:
        con.close()
    rows = check_provenance(r, settings.db_path)
    assert ("All", 5) == rows["Sweep groups"][-1][:2]              # 6 sweep rows, one of the failed unit
    for title in ("Sweep groups", "Scenario costs", "Costliest sweeps (trace them to orders and trades)"):
        assert "WHERE u.status = 'done'" in next(t.sql for t in r.tables if t.title == title), title
