"""The dashboard's pure parts: periods of a trend, changes, ranking, the default period, and
the browser test's check for requests that leave the server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from civicloop.api.dashboard import figures
from tests.support.browser import outside

DAY = timedelta(days=1)
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_a_trend_covers_the_period_in_steps_and_cuts_the_last_one_short() -> None:
    periods = figures._periods(T0, T0 + 10 * DAY, 7 * DAY)
    assert periods == [(T0, T0 + 7 * DAY), (T0 + 7 * DAY, T0 + 10 * DAY)]
    assert len(figures._periods(T0, T0 + 31 * DAY, DAY)) == 31
    with pytest.raises(ValueError, match="too many"):
        figures._periods(T0, T0 + 3 * 365 * DAY, DAY)


def test_rates_change_in_points_and_counts_relatively() -> None:
    assert figures._change(0.8, 0.75, "rate") == pytest.approx(0.05)
    assert figures._change(150, 100, "count") == pytest.approx(0.5)
    assert figures._change(5, 0, "count") is None
    assert figures._change(None, 0.5, "rate") is None


def test_the_previous_period_is_as_long_unless_named() -> None:
    view = figures.View(T0, T0 + 14 * DAY)
    assert view.previous == (T0 - 14 * DAY, T0)
    named = figures.View(T0, T0 + 31 * DAY, before=(T0 - 28 * DAY, T0))
    assert named.previous == (T0 - 28 * DAY, T0)
    with pytest.raises(ValueError, match="must end after it starts"):
        figures.View(T0, T0)


def test_the_league_ranks_by_on_time_closure_then_satisfaction_with_no_rate_last() -> None:
    rows = [
        {"group": name, "on_time_closure_rate": on_time, "satisfaction_rate": sat}
        for name, on_time, sat in [
            ("a", None, 0.9),
            ("b", 0.8, 0.5),
            ("c", 0.8, 0.7),
            ("d", 0.9, None),
            ("", 1, 1),
        ]
    ]
    assert [r["group"] for r in figures.ranked(rows)] == ["d", "c", "b", "a"]


def test_the_default_period_is_the_last_thirty_days_including_today() -> None:
    start, end = figures.default_period(datetime(2026, 3, 15, 13, 5, tzinfo=UTC))
    assert (start, end) == (datetime(2026, 2, 14, tzinfo=UTC), datetime(2026, 3, 16, tzinfo=UTC))


def test_requests_outside_the_server_are_caught() -> None:
    base = "http://127.0.0.1:8123"
    urls = [
        f"{base}/dashboard",
        f"{base}/dashboard/static/plotly.min.js?v=1",
        "data:image/png;base64,AAAA",
        "blob:http://127.0.0.1:8123/abc",
        "https://cdn.plot.ly/plotly-latest.min.js",
        "http://127.0.0.1:9999/elsewhere",
        "ws://example.org/socket",
    ]
    assert outside(urls, base) == [
        "https://cdn.plot.ly/plotly-latest.min.js",
        "http://127.0.0.1:9999/elsewhere",
        "ws://example.org/socket",
    ]


def test_signals_are_listed_a_page_at_a_time() -> None:
    rows = [{"n": n} for n in range(45)]
    first, last, past = (figures.page(rows, n, 20) for n in (1, 3, 4))
    assert [r["n"] for r in first["rows"]] == list(range(20))
    assert (first["pages"], first["total"], first["page_size"]) == (3, 45, 20)
    assert [r["n"] for r in last["rows"]] == list(range(40, 45)) and last["page"] == 3
    assert past["rows"] == [] and past["pages"] == 3
    assert figures.page([], 1, 20) == {"rows": [], "page": 1, "pages": 1, "page_size": 20, "total": 0}
