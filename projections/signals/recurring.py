"""Recurring problems (每月一题 candidates): the same category in the same place reported by at
least ``min_cases`` different cases within ``days`` days.

Day ``d`` of a (category, place) is *recurring* when the cases reported on days
``d - days + 1 .. d`` number at least ``min_cases``. A ``RecurringProblemDetected`` is raised on
the first recurring day after a day that was not, so a problem that stays is signalled once,
and again only after it went quiet. A pure function of daily counts, like the surge detector.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

Place = tuple[str, str]  # (category, place)


@dataclass(frozen=True, slots=True)
class RecurringSettings:
    min_cases: int = 5
    days: int = 30

    def __post_init__(self) -> None:
        if self.min_cases < 2 or self.days < 1:
            raise ValueError(f"recurring settings {self!r}: min_cases >= 2 and days >= 1")


@dataclass(frozen=True, slots=True)
class Recurrence:
    place: Place
    day: int  # the day bucket on which the threshold was reached
    cases: int  # cases in the look-back ending with that day


def recurrences(
    daily: Mapping[tuple[Place, int], int], lo: int, hi: int, s: RecurringSettings
) -> list[Recurrence]:
    """Recurrences that start on days [lo, hi); ``daily`` must cover [lo - days, hi)."""
    by_place: dict[Place, dict[int, int]] = defaultdict(dict)
    for (place, day), n in daily.items():
        by_place[place][day] = n
    found = []
    for place, days in by_place.items():
        if sum(days.values()) < s.min_cases:
            continue
        for d in sorted(x for x in days if lo <= x < hi):
            now = sum(days.get(x, 0) for x in range(d - s.days + 1, d + 1))
            before = now - days.get(d, 0) + days.get(d - s.days, 0)
            if now >= s.min_cases > before:
                found.append(Recurrence(place, d, now))
    return sorted(found, key=lambda r: (r.day, r.place))
