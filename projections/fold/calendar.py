"""A working calendar: office hours in a time zone, working weekdays, holidays, make-up days.

Pure and fast: both functions walk day by day (never minute by minute), and each day's
office window is computed once per calendar and cached. Office hours are local wall-clock
times; every length is measured in real (UTC) seconds, so a DST change inside office hours
would count correctly, and nights, weekends and holidays count zero.

``working_seconds`` is the projector's form of ``working_seconds_between`` for whole seconds:
every row of a case carries up to three working-time durations, so instead of walking the
days of each it subtracts two running totals of office seconds (``_Office``), kept per
calendar and UTC day. The two agree on every pair of moments (tests/unit/test_calendar.py).
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


@lru_cache(maxsize=64)
def office(cal: Calendar) -> _Office:
    """``cal``'s running totals of office seconds (built as days are asked for). A cache beside
    the class, not a ``cached_property``: compiled (civicloop/compiled.py), a calendar has no
    ``__dict__`` to keep one in, and mypyc would recompute it on every read."""
    return _Office(cal)


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


def working_seconds(a: int, b: int, cal: Calendar) -> int:
    """``working_seconds_between`` for whole seconds since the epoch: office seconds in [a, b)."""
    totals = office(cal)
    # Both days known before either total is read: learning an earlier day re-bases every
    # total, so a total read before that would not be comparable with one read after.
    totals.cover(a, b)
    return totals.before(b) - totals.before(a)


DAY = 86400
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


class _Office:
    """Office seconds before any moment, as a running total per UTC day plus the office
    windows (clipped to that UTC day) of the day the moment falls in. Days are added as they
    are asked for; a projection's moments span a few years, so this stays a few thousand days."""

    def __init__(self, cal: Calendar) -> None:
        self.cal = cal
        self.first = 0  # the UTC day (days since the epoch) of totals[0]
        self.totals: list[int] = []  # office seconds from the first day to the start of each day
        self.windows: list[list[tuple[int, int]]] = []  # each day's office windows, in UTC seconds

    def cover(self, *moments: int) -> None:
        """Know the days of ``moments`` (totals are relative to the first known day)."""
        for t in moments:
            day = t // DAY
            if not self.first <= day < self.first + len(self.totals):
                self._cover(day)

    def before(self, t: int) -> int:
        """Office seconds from the start of the first known day to ``t``, a day :meth:`cover`
        made known (a difference of two of these is what counts)."""
        i = t // DAY - self.first
        total = self.totals[i]
        for lo, hi in self.windows[i]:
            if t > lo:
                total += (t if t < hi else hi) - lo
        return total

    def _cover(self, day: int) -> None:
        if not self.totals:
            self.first = day
            self.totals, self.windows = [0], [self._windows(day)]
            return
        if day < self.first:
            days = range(day, self.first)
            added = [self._windows(d) for d in days]
            self.windows = added + self.windows
            self.first = day
            self.totals = [0] * len(added) + self.totals
            self._total_from(0)
        else:
            start = len(self.totals)
            for d in range(self.first + start, day + 1):
                self.windows.append(self._windows(d))
                self.totals.append(0)
            self._total_from(start - 1)

    def _total_from(self, i: int) -> None:
        for j in range(max(i, 0), len(self.totals) - 1):
            self.totals[j + 1] = self.totals[j] + sum(hi - lo for lo, hi in self.windows[j])

    def _windows(self, day: int) -> list[tuple[int, int]]:
        """The office windows within UTC day ``day``: those of the local dates around it
        (a local day is at most a day away from the UTC one), clipped to it, in order."""
        start, end = day * DAY, (day + 1) * DAY
        found = []
        for local in (day - 1, day, day + 1):
            span = window(self.cal, date.fromordinal(_EPOCH_ORDINAL + local))
            if span is None:
                continue
            lo, hi = max(int(span[0].timestamp()), start), min(int(span[1].timestamp()), end)
            if hi > lo:
                found.append((lo, hi))
        return sorted(found)
