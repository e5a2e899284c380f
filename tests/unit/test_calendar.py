"""The working calendar: nights, weekends, holidays, make-up days, starts outside hours, DST."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civicloop.projections.fold.calendar import (
    Calendar,
    add_working_time,
    working_seconds,
    working_seconds_between,
)

NY = ZoneInfo("America/New_York")
CAL = Calendar(holidays=frozenset({date(2024, 7, 4)}), make_up_days=frozenset({date(2024, 7, 6)}))
H = timedelta(hours=1)


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


@pytest.mark.parametrize(
    ("start", "duration", "expected"),
    [
        (ny(2024, 3, 4, 10), 2 * H, ny(2024, 3, 4, 12)),  # within one day
        (ny(2024, 3, 4, 17), 2 * H, ny(2024, 3, 5, 10)),  # across the night
        (ny(2024, 3, 4, 20), 1 * H, ny(2024, 3, 5, 10)),  # start after hours
        (ny(2024, 3, 4, 6), 1 * H, ny(2024, 3, 4, 10)),  # start before hours
        (ny(2024, 3, 8, 17), 2 * H, ny(2024, 3, 11, 10)),  # across the weekend and DST
        (ny(2024, 3, 9, 12), 1 * H, ny(2024, 3, 11, 10)),  # start on a Saturday
        (ny(2024, 7, 3, 17), 2 * H, ny(2024, 7, 5, 10)),  # skip the holiday
        (ny(2024, 7, 5, 17), 2 * H, ny(2024, 7, 6, 10)),  # make-up Saturday works
        (ny(2024, 3, 4, 9), 9 * H, ny(2024, 3, 4, 18)),  # a whole day ends at closing
        (ny(2024, 3, 4, 9), 7 * 9 * H, ny(2024, 3, 12, 18)),  # 7 days
        (ny(2024, 11, 1, 17), 2 * H, ny(2024, 11, 4, 10)),  # DST ends over the weekend
        (ny(2024, 3, 4, 12), timedelta(0), ny(2024, 3, 4, 12)),
    ],
)
def test_add_working_time(start, duration, expected):
    assert add_working_time(start, duration, CAL) == expected.astimezone(UTC)


def test_seven_working_days_is_the_same_time_seven_working_days_later():
    assert add_working_time(ny(2024, 3, 4, 14), 7 * 9 * H, CAL) == ny(2024, 3, 13, 14)


@pytest.mark.parametrize(
    ("a", "b", "expected_h"),
    [
        (ny(2024, 3, 4, 10), ny(2024, 3, 4, 12), 2),
        (ny(2024, 3, 4, 17), ny(2024, 3, 5, 10), 2),
        (ny(2024, 3, 8, 17), ny(2024, 3, 11, 10), 2),
        (ny(2024, 7, 3, 9), ny(2024, 7, 8, 9), 27),  # Wed + (Thu holiday) + Fri + make-up Sat
        (ny(2024, 3, 9, 1), ny(2024, 3, 10, 23), 0),  # a weekend counts nothing
        (ny(2024, 3, 4, 12), ny(2024, 3, 4, 10), -2),
    ],
)
def test_working_seconds_between(a, b, expected_h):
    assert working_seconds_between(a, b, CAL) == expected_h * 3600


def test_a_calendar_without_working_days_fails_instead_of_looping():
    with pytest.raises(ValueError, match="no .* of working time"):
        add_working_time(ny(2024, 1, 1), H, Calendar(workdays=frozenset()))


def test_a_long_span_is_fast():
    a, b = ny(2020, 1, 1), ny(2024, 1, 1)
    assert working_seconds_between(a, b, CAL) > 0
    assert add_working_time(a, 1000 * 9 * H, CAL) > a


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(min_value=datetime(2023, 1, 1), max_value=datetime(2025, 12, 31), timezones=st.just(UTC)),
    st.integers(0, 40 * 9 * 3600),
)
def test_adding_then_measuring_gives_the_duration_back(start, seconds):
    start = start.replace(microsecond=0)
    end = add_working_time(start, timedelta(seconds=seconds), CAL)
    assert working_seconds_between(start, end, CAL) == seconds


CALENDARS = [
    CAL,
    Calendar(tz="Asia/Shanghai", opens=time(8, 30), closes=time(17, 30)),
    Calendar(tz="Pacific/Auckland", workdays=frozenset({0, 2, 4}), holidays=frozenset({date(2025, 1, 1)})),
    Calendar(tz="UTC", opens=time(0, 0), closes=time(23, 59, 59)),
]


MOMENTS = st.integers(
    int(datetime(2000, 1, 1, tzinfo=UTC).timestamp()), int(datetime(2040, 1, 1, tzinfo=UTC).timestamp())
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(CALENDARS),
    st.lists(st.tuples(MOMENTS, st.integers(-60 * 86400, 60 * 86400)), min_size=1, max_size=4),
)
def test_whole_second_totals_agree_with_walking_the_days(cal, pairs):
    # given a calendar whose running totals start empty, and pairs of moments in whole seconds
    # (in either order), asked for one after the other
    cal = dataclasses.replace(cal)
    for a, span in pairs:
        b = a + span
        walked = working_seconds_between(datetime.fromtimestamp(a, UTC), datetime.fromtimestamp(b, UTC), cal)
        # then each answer is that of the day-by-day walk, whatever the totals knew before
        assert working_seconds(a, b, cal) == walked


def test_whole_second_totals_extend_backwards_and_forwards():
    # given a calendar of its own (its running totals start empty, whatever other tests asked)
    cal = dataclasses.replace(CAL)
    first, later, earlier = ny(2024, 3, 4, 10), ny(2024, 7, 8, 9), ny(2020, 1, 1, 12)
    s = [int(m.timestamp()) for m in (first, later, earlier)]
    # when asked first for a later span, then for spans reaching before every day it knows
    # (in both orders: the totals re-base when an earlier day is learnt)
    assert working_seconds(s[0], s[1], cal) == working_seconds_between(first, later, CAL)
    assert working_seconds(s[2], s[0], cal) == working_seconds_between(earlier, first, CAL)
    before_that = int(ny(2019, 6, 3, 11).timestamp())
    assert working_seconds(s[1], before_that, cal) == working_seconds_between(later, ny(2019, 6, 3, 11), CAL)
    assert working_seconds(s[0], s[1], cal) == working_seconds_between(first, later, CAL)
