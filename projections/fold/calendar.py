"""A working calendar: office hours in a time zone, working weekdays, holidays, make-up days.

Pure and fast: both functions walk day by day (never minute by minute), and each day's
office window is computed once per calendar and cached. Office hours are local wall-clock
times; every length is measured in real (UTC) seconds, so a DST change inside office hours
would count correctly, and nights, weekends and holidays count zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

MAX_DAYS = 3700  # ~10 years: a calendar with no working day must fail, not loop


@dataclass(frozen=True)
class Calendar:
    tz: str = "America/New_York"
    opens: time = time(9, 0)
    closes: time = time(18, 0)
    workdays: frozenset[int] = frozenset(range(5))  # Monday = 0
    holidays: frozenset[date] = field(default_factory=frozenset)
    make_up_days: frozenset[date] = field(default_factory=frozenset)  # 调休: weekend workdays

    def is_working_day(self, day: date) -> bool:
        if day in self.holidays:
            return False
        return day.weekday() in self.workdays or day in self.make_up_days

    def day_seconds(self) -> int:
        """The length of a normal office day (what "1 working day" means)."""
        day = date(2000, 1, 3)
        return int((datetime.combine(day, self.closes) - datetime.combine(day, self.opens)).total_seconds())

    def local_day(self, moment: datetime) -> date:
        return moment.astimezone(ZoneInfo(self.tz)).date()


@lru_cache(maxsize=65536)
def window(cal: Calendar, day: date) -> tuple[datetime, datetime] | None:
    """The office window of ``day`` in UTC, or None when it is not a working day."""
    if not cal.is_working_day(day):
        return None
    zone = ZoneInfo(cal.tz)
    start = datetime.combine(day, cal.opens, tzinfo=zone).astimezone(UTC)
    return start, datetime.combine(day, cal.closes, tzinfo=zone).astimezone(UTC)


def add_working_time(start: datetime, duration: timedelta, cal: Calendar) -> datetime:
    """The moment when ``duration`` of office time has passed after ``start`` (UTC)."""
    remaining = duration
    cursor = start.astimezone(UTC)
    day = cal.local_day(cursor)
    for _ in range(MAX_DAYS):
        span = window(cal, day)
        if span is not None and cursor < span[1]:
            cursor = max(cursor, span[0])
            if remaining <= span[1] - cursor:
                return cursor + remaining
            remaining -= span[1] - cursor
        day += timedelta(days=1)
    raise ValueError(f"no {duration} of working time within {MAX_DAYS} days of {start}")


def working_seconds_between(a: datetime, b: datetime, cal: Calendar) -> int:
    """Office seconds in [a, b); negative when ``b`` is before ``a``."""
    if b < a:
        return -working_seconds_between(b, a, cal)
    total = timedelta()
    day, last = cal.local_day(a), cal.local_day(b)
    while day <= last:
        span = window(cal, day)
        if span is not None:
            lo, hi = max(a, span[0]), min(b, span[1])
            if hi > lo:
                total += hi - lo
        day += timedelta(days=1)
    return int(total.total_seconds())
