"""Surge detection on counts per cell and window: the Bayes system of the R package
``surveillance`` (``algo.bayes``; Riebler 2004, Höhle 2007) on a weekly-seasonal baseline.

For window ``t`` of a cell the reference windows are the same position in the weekly cycle in
each of the ``weeks`` preceding weeks, ``half_width`` windows either side, minus the ``guard``
windows just before ``t`` and anything before the data began. With ``n`` reference windows
holding ``S`` reports, a Poisson count with a Jeffreys prior on its mean has the predictive
distribution NegBin(size = S + 1/2, prob = n / (n + 1)) — a negative binomial whose spread
includes the uncertainty of a baseline learned from few, small counts. An alarm is raised when
``P(Y >= observed) < alpha`` under it and ``observed >= min_count``. docs/SIGNALS.md says why.

Consecutive alarm windows of one cell are one surge: ``SurgeDetected`` at its first window,
``SurgeEnded`` at the first window after it without an alarm. Everything is a pure function of
the counts, so evaluating a window again — after a crash, in a replay — gives the same result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np

Cell = tuple[str, str, str]  # (level, category, place)
#: counts of reports per (cell, window) for windows in [lo, hi); absent = 0. ``cell`` limits
#: the answer to one cell (None: every cell).
CountSource = Callable[[int, int, Cell | None], Mapping[tuple[Cell, int], int]]


@dataclass(frozen=True, slots=True)
class SurgeSettings:
    alpha: float = 0.001
    min_count: int = 5
    weeks: int = 4
    half_width: int = 0
    guard: int = 1
    min_reference: int = 3

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValueError(f"surge alpha={self.alpha!r} must be between 0 and 1")
        if self.weeks < 1 or self.half_width < 0 or self.guard < 0 or self.min_count < 1:
            raise ValueError(f"surge settings {self!r}: weeks and min_count >= 1, half_width and guard >= 0")


@dataclass(frozen=True, slots=True)
class Assessment:
    observed: int
    expected: float  # the baseline mean, S / n
    threshold: int  # smallest count that would alarm against this baseline
    p_value: float  # P(Y >= observed) under the predictive distribution
    reference_windows: int
    reference_reports: int
    alarm: bool


@dataclass(frozen=True, slots=True)
class SurgeStart:
    cell: Cell
    bucket: int
    assessment: Assessment


@dataclass(frozen=True, slots=True)
class SurgeEnd:
    cell: Cell
    bucket: int  # the first quiet window
    start: int  # the surge's first window
    observed: int
    expected: float

    @property
    def alarm_windows(self) -> int:
        return self.bucket - self.start


def reference_buckets(t: int, per_week: int, s: SurgeSettings, first: int) -> list[int]:
    """The windows whose counts form the baseline of window ``t`` (``first``: the first window
    with data; earlier ones are unknown, not zero)."""
    refs = (
        t - k * per_week + j for k in range(1, s.weeks + 1) for j in range(-s.half_width, s.half_width + 1)
    )
    return sorted(r for r in refs if first <= r < t - s.guard)


def assess(
    observed: Iterable[int], totals: Iterable[int], windows: Iterable[int], s: SurgeSettings
) -> list[Assessment]:
    """Vectorised: one assessment per (observed count, reference reports, reference windows)."""
    # Imported here: scipy.stats takes most of a second to import, and every worker start (and
    # every command that imports the signals) would pay it before its first surge sweep.
    from scipy.stats import nbinom

    y = np.asarray(list(observed), dtype=np.int64)
    total = np.asarray(list(totals), dtype=np.int64)
    n = np.asarray(list(windows), dtype=np.int64)
    if y.size == 0:
        return []
    known = n > 0  # no reference window at all (start of the data): no verdict
    size, prob = total + 0.5, np.where(known, n, 1) / (np.where(known, n, 1) + 1.0)
    p = np.where(known, nbinom.sf(y - 1, size, prob), 1.0)
    threshold = np.where(known, np.maximum(nbinom.isf(s.alpha, size, prob) + 1, s.min_count), s.min_count)
    expected = np.where(known, total / np.where(known, n, 1), 0.0)
    alarm = (p < s.alpha) & (y >= s.min_count) & (n >= s.min_reference)
    return [
        Assessment(int(yi), float(ei), int(hi), float(pi), int(ni), int(ti), bool(ai))
        for yi, ei, ti, ni, hi, pi, ai in zip(y, expected, total, n, threshold, p, alarm, strict=True)
    ]


class SurgeDetector:
    """Alarms and surge episodes of every cell, from a source of counts."""

    def __init__(self, counts: CountSource, per_week: int, first: int, settings: SurgeSettings) -> None:
        self.source, self.per_week, self.first, self.s = counts, per_week, first, settings
        self._span = settings.weeks * per_week + settings.half_width  # how far back a baseline reaches

    def episodes(self, lo: int, hi: int) -> tuple[list[SurgeStart], list[SurgeEnd]]:
        """Surges that start, and surges that end, in windows [lo, hi)."""
        counts = dict(self.source(lo - 1 - self._span, hi, None))
        alarms = self._alarms(
            counts, [k for k, n in counts.items() if lo - 1 <= k[1] < hi and n >= self.s.min_count]
        )
        starts = [SurgeStart(c, b, a) for (c, b), a in alarms.items() if b >= lo and (c, b - 1) not in alarms]
        ends = []
        for cell, b in sorted({(c, b + 1) for c, b in alarms if b + 1 < hi and (c, b + 1) not in alarms}):
            quiet = self._assess_one(counts, cell, b)
            ends.append(
                SurgeEnd(
                    cell, b, self._run_start(cell, b - 1, counts, alarms, lo), quiet.observed, quiet.expected
                )
            )
        starts.sort(key=lambda x: (x.bucket, x.cell))
        return starts, ends

    def _alarms(
        self, counts: Mapping[tuple[Cell, int], int], candidates: list[tuple[Cell, int]]
    ) -> dict[tuple[Cell, int], Assessment]:
        found = self._assess_many(counts, candidates)
        return {key: a for key, a in zip(candidates, found, strict=True) if a.alarm}

    def _assess_many(
        self, counts: Mapping[tuple[Cell, int], int], keys: list[tuple[Cell, int]]
    ) -> list[Assessment]:
        refs = [reference_buckets(b, self.per_week, self.s, self.first) for _, b in keys]
        totals = [sum(counts.get((c, r), 0) for r in rs) for (c, _), rs in zip(keys, refs, strict=True)]
        return assess((counts.get(k, 0) for k in keys), totals, (len(rs) for rs in refs), self.s)

    def _assess_one(self, counts: Mapping[tuple[Cell, int], int], cell: Cell, b: int) -> Assessment:
        return self._assess_many(counts, [(cell, b)])[0]

    def _run_start(
        self,
        cell: Cell,
        last: int,
        counts: dict[tuple[Cell, int], int],
        alarms: Mapping[tuple[Cell, int], Assessment],
        lo: int,
    ) -> int:
        """The first window of the run of alarms ending at ``last``; walks back past ``lo``
        (fetching older counts of this cell only) when the surge began before this range."""
        b = last
        fetched_from = lo - 1 - self._span
        while True:
            previous = b - 1
            if previous < self.first:
                return b
            if previous >= lo - 1:
                if (cell, previous) not in alarms:
                    return b
            else:
                if previous - self._span < fetched_from:
                    older = fetched_from - 4 * self._span
                    counts.update(self.source(older, fetched_from, cell))
                    fetched_from = older
                if (
                    counts.get((cell, previous), 0) < self.s.min_count
                    or not self._assess_one(counts, cell, previous).alarm
                ):
                    return b
            b = previous
