"""Recurring problems: N cases of one category in one place within D days, signalled once."""

from __future__ import annotations

from civicloop.projections.signals.recurring import RecurringSettings, recurrences

POTHOLE = ("road.pothole", "D01-0101")
LEAK = ("water.leak", "D01-0101")


def test_the_nth_case_within_d_days_raises_it_once() -> None:
    # given potholes on days 1, 5, 9, 20, 28 and 29 in one grid cell (5 within 30 days by day 28)
    daily = {(POTHOLE, d): 1 for d in (1, 5, 9, 20, 28, 29)}
    found = recurrences(daily, 0, 40, RecurringSettings(min_cases=5, days=30))
    # then it is raised on day 28 only, with the five cases counted
    assert [(r.place, r.day, r.cases) for r in found] == [(POTHOLE, 28, 5)]


def test_cases_spread_wider_than_d_days_are_no_recurrence() -> None:
    daily = {(LEAK, d): 1 for d in (0, 10, 20, 30, 40, 50)}
    assert recurrences(daily, 0, 60, RecurringSettings(min_cases=4, days=30)) == []


def test_it_is_raised_again_only_after_a_quiet_spell() -> None:
    # given 3 cases on day 0 (threshold 3 in 7 days), none for two weeks, then 3 on day 20
    daily = {(LEAK, 0): 3, (LEAK, 1): 1, (LEAK, 20): 3}
    found = recurrences(daily, 0, 30, RecurringSettings(min_cases=3, days=7))
    assert [r.day for r in found] == [0, 20]
    # and evaluated in pieces, the same
    split = recurrences(daily, 0, 10, RecurringSettings(3, 7)) + recurrences(
        daily, 10, 30, RecurringSettings(3, 7)
    )
    assert split == found
