"""Filters and series of periods on the metric queries, on both backends (chDB and
ClickHouse 18.16): a filtered query equals the reference computed over only the matching
cases, and one series query equals one query per period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from civicloop.projections.fold.lifecycle import fold
from civicloop.projections.metrics.closed_loop import metrics, series
from civicloop.projections.metrics.reports import backlog, durations
from civicloop.projections.metrics.scope import Scope
from civicloop.projections.store.base import Store
from civicloop.projections.tables.rows import case_row, task_rows
from civicloop.schemas.event import Event
from tests.support.reference_metrics import reference_metrics
from tests.support.rows import write_rows
from tests.support.workload import workload

pytestmark = pytest.mark.integration
NOW = datetime(2024, 3, 20, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def projected(store: Store, database: str) -> tuple[str, list[list[Event]]]:
    cases = workload(23, 500)
    store.lay_out(database)
    lifecycle, tasks = [], []
    for events in cases:
        state = None
        for event in events:
            state = fold(state, event)
        assert state is not None
        lifecycle.append(case_row(state))
        tasks += task_rows(state)
    write_rows(store, database, lifecycle, tasks)
    return database, cases


def _channel(events: list[Event]) -> str:
    return str(events[0]["channel"])


@pytest.mark.parametrize(
    ("t_from", "t_to"), [(None, None), (datetime(2024, 1, 20, tzinfo=UTC), datetime(2024, 2, 20, tzinfo=UTC))]
)
def test_a_filtered_query_equals_the_reference_over_the_matching_cases(
    store: Store, projected: tuple[str, list[list[Event]]], t_from: datetime | None, t_to: datetime | None
) -> None:
    db, cases = projected
    for channel in ("app", "web"):
        # given only the cases reported through one channel, when the metrics are filtered
        # to it, then they are the reference's over those cases alone
        mine = [e for events in cases if _channel(events) == channel for e in events]
        got = metrics(store.query, db, "department", t_from, t_to, NOW, Scope({"channel": channel}))
        assert got == reference_metrics(mine, "department", t_from, t_to, NOW)
        assert sum(row["reported"] for row in got) > 0


def test_a_filter_on_a_dimension_equals_that_dimensions_group(
    store: Store, projected: tuple[str, list[list[Event]]]
) -> None:
    db, _ = projected
    t_from, t_to = datetime(2024, 1, 15, tzinfo=UTC), datetime(2024, 2, 15, tzinfo=UTC)
    for dim in ("department", "category", "district"):
        grouped = metrics(store.query, db, dim, t_from, t_to, NOW)
        assert len(grouped) > 1
        for row in grouped:
            (alone,) = metrics(store.query, db, "all", t_from, t_to, NOW, Scope({dim: row["group"]}))
            assert {**alone, "group": row["group"]} == row
        for row in durations(store.query, db, dim, t_from, t_to):
            filtered = durations(store.query, db, "all", t_from, t_to, Scope({dim: row["group"]}))
            assert {
                **next(r for r in filtered if r["duration"] == row["duration"]),
                "group": row["group"],
            } == row
    open_rows = backlog(store.query, db, "district", NOW)
    for district in {row["group"] for row in open_rows}:
        filtered = backlog(store.query, db, "all", NOW, Scope({"district": district}))
        assert [{**r, "group": district} for r in filtered] == [
            r for r in open_rows if r["group"] == district
        ]


def test_a_value_that_needs_quoting_is_bound_not_spliced(
    store: Store, projected: tuple[str, list[list[Event]]]
) -> None:
    db, _ = projected
    assert metrics(store.query, db, "all", None, None, NOW)[0]["reported"] == 500
    rows = metrics(store.query, db, "all", None, None, NOW, Scope({"department": "x' OR 1 = 1 --"}))
    # no group at all (chDB), or — ClickHouse 18.16 groups by a constant as if not grouping —
    # one group of zeros
    assert all(row["reported"] == row["dispatched"] == 0 for row in rows)


@pytest.mark.parametrize("days", [1, 7])
def test_a_series_equals_one_query_per_period(
    store: Store, projected: tuple[str, list[list[Event]]], days: int
) -> None:
    db, _ = projected
    start = datetime(2024, 1, 8, tzinfo=UTC)
    periods = [(start + i * days * DAY, start + (i + 1) * days * DAY) for i in range(30 // days)]
    for filters in ({}, {"channel": "hotline"}, {"department": "water", "district": "D2"}):
        got = series(store.query, db, periods, filters, NOW)
        want = []
        for p_from, p_to in periods:
            one = metrics(store.query, db, "all", p_from, p_to, NOW, Scope(filters))
            want.append({**(one[0] if one else _zero(store, db)), "group": p_from})
        assert got == want, filters
        assert sum(row["reported"] for row in got) > 0


def _zero(store: Store, db: str) -> dict:
    """The row of a period nobody touched: the metrics of an empty filter, counts zero."""
    far = datetime(1990, 1, 1, tzinfo=UTC)
    (row,) = series(store.query, db, [(far, far + DAY)], {}, NOW)
    assert row["reported"] == 0 and row["closure_rate"] is None
    return row


def test_a_series_refuses_a_period_that_ends_before_it_starts() -> None:
    with pytest.raises(ValueError, match="must end after it starts"):
        Scope(periods=[(NOW, NOW - DAY)])
    with pytest.raises(ValueError, match="cannot filter on 'all'"):
        Scope({"all": ""})
