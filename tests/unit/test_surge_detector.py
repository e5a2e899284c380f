"""The surge detector on synthetic counts: a surge is found in its own window, a quiet
seasonal year stays within the configured false-alarm rate, episodes are whole."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from civicloop.projections.signals.surge import (
    Cell,
    SurgeDetector,
    SurgeSettings,
    assess,
    reference_buckets,
)

WEEKLY = (1.2, 1.1, 1.05, 1.0, 1.0, 0.7, 0.6)  # weekday shape: quieter weekends
CELL: Cell = ("district", "water.leak", "D01")


def _source(counts: Mapping[tuple[Cell, int], int]):  # type: ignore[no-untyped-def]
    def fetch(lo: int, hi: int, cell: Cell | None) -> dict[tuple[Cell, int], int]:
        return {k: n for k, n in counts.items() if lo <= k[1] < hi and (cell is None or k[0] == cell)}

    return fetch


def _seasonal_days(
    rng: np.random.Generator, cells: list[tuple[Cell, float]], days: int
) -> dict[tuple[Cell, int], int]:
    counts: dict[tuple[Cell, int], int] = {}
    for cell, mean in cells:
        for day in range(days):
            n = int(rng.poisson(mean * WEEKLY[day % 7]))
            if n:
                counts[(cell, day)] = n
    return counts


def test_reference_windows_are_the_same_weekday_of_preceding_weeks() -> None:
    s = SurgeSettings(weeks=4, half_width=1, guard=1)
    assert reference_buckets(100, 7, s, first=0) == [71, 72, 73, 78, 79, 80, 85, 86, 87, 92, 93, 94]
    # nothing before the data began, nothing inside the guard band
    assert reference_buckets(100, 7, s, first=80) == [80, 85, 86, 87, 92, 93, 94]
    assert reference_buckets(10, 7, SurgeSettings(weeks=1, half_width=6, guard=2), first=0) == list(range(8))


def test_the_predictive_tail_is_the_negative_binomial_of_algo_bayes() -> None:
    # given a baseline of 4 windows with 20 reports (mean 5)
    low, high = assess([5, 25], [20, 20], [4, 4], SurgeSettings(alpha=0.001))
    # then an ordinary count is no alarm and five times the mean is one
    assert not low.alarm and low.p_value > 0.3 and low.expected == 5.0
    assert high.alarm and high.p_value < 1e-6 and high.observed >= high.threshold > 5
    # and the threshold is where the tail first drops below alpha (the next count down would not)
    edge = assess([high.threshold - 1, high.threshold], [20, 20], [4, 4], SurgeSettings(alpha=0.001))
    assert not edge[0].alarm and edge[1].alarm


def test_a_minimum_count_and_a_minimum_baseline_are_required() -> None:
    # 3 reports where there were none is improbable, but below min_count
    assert not assess([3], [0], [4], SurgeSettings(min_count=5))[0].alarm
    assert assess([5], [0], [4], SurgeSettings(min_count=5))[0].alarm
    # too little history: no verdict either way
    assert not assess([50], [0], [2], SurgeSettings(min_reference=3))[0].alarm


def test_a_five_fold_one_day_surge_is_signalled_in_its_own_window() -> None:
    # given ten weeks of seasonal daily counts in several cells, and on day 60 one cell at 5x
    rng = np.random.default_rng(7)
    cells = [
        (CELL, 6.0),
        (("district", "water.leak", "D02"), 6.0),
        (("district", "road.pothole", "D01"), 12.0),
    ]
    counts = _seasonal_days(rng, cells, 70)
    counts[(CELL, 60)] = int(rng.poisson(5 * 6.0 * WEEKLY[60 % 7]))
    detector = SurgeDetector(_source(counts), per_week=7, first=0, settings=SurgeSettings())
    # when days 29..69 are evaluated
    starts, ends = detector.episodes(29, 70)
    # then the surge is raised for day 60 itself, in that cell only, and ends the next day
    assert [(s.cell, s.bucket) for s in starts] == [(CELL, 60)]
    assert [(e.cell, e.bucket, e.start, e.alarm_windows) for e in ends] == [(CELL, 61, 60, 1)]


def test_a_stationary_seasonal_year_stays_within_the_false_alarm_rate() -> None:
    # given a year of daily counts without any surge in 60 cells, means from 0.2 to 30 a day
    rng = np.random.default_rng(2024)
    means = np.geomspace(0.2, 30, 60)
    cells = [(("grid", "c", f"g{n}"), float(m)) for n, m in enumerate(means)]
    counts = _seasonal_days(rng, cells, 365 + 35)
    settings = SurgeSettings(alpha=0.001)
    detector = SurgeDetector(_source(counts), per_week=7, first=0, settings=settings)
    # when every window after the first 5 weeks is assessed
    keys = [(cell, day) for cell, _ in cells for day in range(35, 400)]
    alarms = sum(a.alarm for a in detector._assess_many(counts, keys))
    rate = alarms / len(keys)
    print(
        f"\nfalse alarms: {alarms} in {len(keys)} cell-days = {rate:.5f} per window (alpha {settings.alpha})"
    )
    # then the rate of alarms per window is within the configured alpha
    assert rate <= settings.alpha


def test_a_surge_that_began_before_the_evaluated_range_ends_with_its_true_start() -> None:
    # given a three-day surge on days 40-42 in a steady cell
    counts = {(CELL, d): 5 for d in range(50)}
    counts.update({(CELL, 40): 40, (CELL, 41): 40, (CELL, 42): 40})
    detector = SurgeDetector(_source(counts), per_week=7, first=0, settings=SurgeSettings())
    # when it is evaluated in two sweeps that split it
    first_starts, first_ends = detector.episodes(30, 42)
    second_starts, second_ends = detector.episodes(42, 50)
    # then one start, one end, and the end knows the surge began on day 40
    assert [s.bucket for s in first_starts] == [40] and not first_ends and not second_starts
    assert [(e.bucket, e.start, e.alarm_windows) for e in second_ends] == [(43, 40, 3)]
    # and evaluating it in one go gives the same
    starts, ends = detector.episodes(30, 50)
    assert [s.bucket for s in starts] == [40] and [(e.bucket, e.start) for e in ends] == [(43, 40)]


def test_a_long_surge_ending_far_later_walks_back_through_older_counts() -> None:
    counts = {(CELL, d): 5 for d in range(400)}
    counts.update({(CELL, d): 5 + 10 * (d - 99) for d in range(100, 330)})  # rising for 230 days
    detector = SurgeDetector(_source(counts), per_week=7, first=0, settings=SurgeSettings())
    # when only its last days are evaluated, then its end names the start that evaluating the
    # whole history finds (230 windows back)
    starts, _ = detector.episodes(35, 330)
    _, ends = detector.episodes(330, 340)
    assert len(starts) == 1 and starts[0].bucket in (100, 101)
    assert [(e.bucket, e.start) for e in ends] == [(330, starts[0].bucket)]
