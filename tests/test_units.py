"""Selection filters: parsing, round trips, errors (SPEC §1)."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duckpipe.engine.units import (
    Selection,
    Unit,
    UnitRow,
    format_dates,
    format_positions,
    parse_dates,
    parse_positions,
    parse_securities,
    parse_statuses,
    select,
)
from duckpipe.errors import UsageError
from duckpipe.sqlrender import quote_ident, quote_literal


@given(st.lists(st.tuples(st.integers(1, 10_000), st.integers(0, 50)), min_size=1, max_size=8))
def test_positions_round_trip(pairs):
    ranges = tuple((a, a + d) for a, d in pairs)
    assert parse_positions(format_positions(ranges)) == ranges


@given(st.lists(st.tuples(st.dates(dt.date(2000, 1, 1), dt.date(2030, 1, 1)), st.integers(0, 40)), min_size=1, max_size=6))
def test_dates_round_trip(pairs):
    ranges = tuple((a, a + dt.timedelta(days=d)) for a, d in pairs)
    assert parse_dates(format_dates(ranges)) == ranges


@pytest.mark.parametrize("text", ["2024-09-06..2024-09-02", "2024-13-01", "2024-09-01..", "yesterday",
                                  "2024-01-01' OR 1=1"])
def test_bad_dates(text):
    with pytest.raises(UsageError, match="--dates"):
        parse_dates(text)


@pytest.mark.parametrize("text", ["0-3", "5-2", "1-", "a", "1;DROP"])
def test_bad_positions(text):
    with pytest.raises(UsageError, match="--units"):
        parse_positions(text)


def test_bad_securities_and_status():
    with pytest.raises(UsageError, match="--securities"):
        parse_securities("1; DROP TABLE units")
    with pytest.raises(UsageError, match="--status"):
        parse_statuses("done,finished")


def _rows():
    units = [Unit(s, dt.date(2024, 9, d)) for d in (2, 3, 4) for s in (100, 200)]
    return [UnitRow(i, u, "done" if i % 2 else "pending") for i, u in enumerate(units, 1)]


def test_select_combines_filters():
    rows = _rows()
    sel = Selection(securities=(200,), date_ranges=((dt.date(2024, 9, 3), dt.date(2024, 9, 4)),))
    assert [r.position for r in select(rows, sel)] == [4, 6]
    assert [r.position for r in select(rows, Selection(positions=((1, 2), (5, 5))))] == [1, 2, 5]
    assert [r.position for r in select(rows, Selection(statuses=("pending",)))] == [2, 4, 6]


def test_select_unknown_security_and_position_past_end():
    with pytest.raises(UsageError, match="unknown security 999"):
        select(_rows(), Selection(securities=(999,)))
    with pytest.raises(UsageError, match="past the last unit"):
        select(_rows(), Selection(positions=((5, 9),)))


def test_literal_and_identifier_quoting():
    assert quote_literal("it's") == "'it''s'"
    assert quote_literal([1, "a'b"]) == "[1, 'a''b']"
    assert quote_ident("orders") == '"orders"'
    for bad in ['orders"; DROP TABLE units; --', "1abc", "a b", ""]:
        with pytest.raises(ValueError):
            quote_ident(bad)
