"""The deadline policy from deadlines.toml: lookup order, wall and working durations."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from civicloop.projections.fold.policy import Duration, deadlines_for, default_policy, parse_policy

NY = ZoneInfo("America/New_York")
MON_10 = datetime(2024, 3, 4, 10, tzinfo=NY)


def test_the_packaged_calendar():
    cal = default_policy().calendar
    assert (cal.tz, cal.opens, cal.closes) == ("America/New_York", time(9), time(18))
    assert date(2024, 7, 4) in cal.holidays and cal.workdays == frozenset(range(5))


def test_urgent_is_wall_clock():
    accept_by, dispose_by = deadlines_for("roads", "urgent", MON_10)
    assert (accept_by - MON_10, dispose_by - MON_10) == (timedelta(minutes=30), timedelta(hours=2))


def test_general_cases_take_seven_working_days():
    accept_by, dispose_by = deadlines_for("roads", "normal", MON_10)
    assert accept_by == datetime(2024, 3, 4, 14, tzinfo=NY)
    assert dispose_by == datetime(2024, 3, 13, 10, tzinfo=NY)


def test_a_category_entry_wins_over_the_default():
    friday_night = datetime(2024, 3, 8, 22, tzinfo=NY)
    _, dispose_by = deadlines_for("utilities", "normal", friday_night)
    assert dispose_by - friday_night == timedelta(hours=24)
    assert default_policy().rule("utilities", "low").name == "utilities/*"
    assert default_policy().rule("noise", "low").name == "*/low"


def test_complex_cases_skip_holidays():
    _, dispose_by = deadlines_for("roads", "low", datetime(2024, 6, 28, 10, tzinfo=NY))
    # 15 working days from Fri 28 June, skipping 4 July
    assert dispose_by == datetime(2024, 7, 22, 10, tzinfo=NY)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m wall", Duration(30, "m", False)),
        ("7d working", Duration(7, "d", True)),
        ("1.5h working", Duration(1.5, "h", True)),
    ],
)
def test_duration_parsing(text, expected):
    assert Duration.parse(text) == expected


@pytest.mark.parametrize("text", ["7 days", "2h", "3w wall", ""])
def test_a_bad_duration_says_how_to_write_one(text):
    with pytest.raises(ValueError, match="7d working"):
        Duration.parse(text)


def test_a_missing_policy_entry_says_what_to_add():
    policy = parse_policy(
        {"policy": {"roads": {"urgent": {"accept_by": "1h wall", "dispose_by": "2h wall"}}}}
    )
    with pytest.raises(LookupError, match=r'policy\."\*"'):
        policy.rule("noise", "normal")
    assert deadlines_for("roads", "urgent", datetime(2024, 1, 1, tzinfo=UTC), policy)[1] == datetime(
        2024, 1, 1, 2, tzinfo=UTC
    )
