"""A writer's rollup counts (projections/metrics/rollup.Refresher) never fail a batch: a count
that fails is logged, its months kept pending, and it is tried again a period later, not at
every batch."""

from __future__ import annotations

from typing import Any

from civicloop.projections.metrics import rollup

JANUARY = ("case_lifecycle", 202601)
TASKS = ("case_tasks", 202601)


class _Unreadable:
    """A store whose every read fails (as a server that refuses a statement would)."""

    def __init__(self) -> None:
        self.reads = 0

    def query(self, sql: str, params: Any = None) -> list[Any]:
        self.reads += 1
        raise RuntimeError("Code: 241. DB::Exception: Memory limit exceeded")


def test_a_failing_count_keeps_its_months_and_is_not_asked_again_within_the_period() -> None:
    store = _Unreadable()
    refresher = rollup.Refresher(store, "db", every=3600.0)  # type: ignore[arg-type]
    refresher.add({JANUARY})  # the first batch asks which months were written since their count
    refresher.add({TASKS})  # the next, within the period, asks nothing
    assert store.reads == 1
    assert refresher.pending == {JANUARY, TASKS}


def test_a_failing_count_is_tried_again_once_the_period_is_over() -> None:
    store = _Unreadable()
    refresher = rollup.Refresher(store, "db", every=0.0)  # type: ignore[arg-type]
    refresher.add({JANUARY})
    refresher.add({TASKS})
    assert store.reads == 2
    assert refresher.pending == {JANUARY, TASKS}
