"""When reports arrive: a Poisson process whose rate follows the hour of day and weekday."""

from __future__ import annotations

import random
from collections.abc import Iterator

from civicloop.tools.simulate.config import HOUR_SHAPE, WEEKDAY_SHAPE

_MEAN_SHAPE = sum(HOUR_SHAPE) / 24 * sum(WEEKDAY_SHAPE) / 7
_PEAK = max(HOUR_SHAPE) * max(WEEKDAY_SHAPE)


def arrival_times(
    rng: random.Random, start: int, end: int, cases_per_day: float, utc_offset: int
) -> Iterator[int]:
    """Epoch seconds of arrivals in [start, end), ascending.

    Thinning (Lewis–Shedler): draw at the peak rate, keep each draw with probability
    rate(t)/peak. Exact for a piecewise-constant rate and needs no per-hour bookkeeping.
    """
    if cases_per_day <= 0:
        return
    peak_per_s = cases_per_day / 86400 * _PEAK / _MEAN_SHAPE
    t = float(start)
    while True:
        t += rng.expovariate(peak_per_s)
        if t >= end:
            return
        local = int(t) + utc_offset
        hour = local // 3600 % 24
        weekday = (local // 86400 + 3) % 7  # 1970-01-01 was a Thursday (Mon=0)
        if rng.random() * _PEAK < HOUR_SHAPE[hour] * WEEKDAY_SHAPE[weekday]:
            yield int(t)
