"""When a worker batch is due (streams/batching.py): its oldest event waits at most the linger,
a full batch goes at once, and an empty one never does. The clock is the test's own."""

from __future__ import annotations

import pytest

from civicloop.streams.batching import Linger


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_empty_batch_is_never_due() -> None:
    batch: Linger[int] = Linger(3, 0.25, Clock())
    assert batch.wait_s() is None
    assert batch.take() == []


def test_the_clock_starts_at_the_first_event_not_at_the_last_handover() -> None:
    clock = Clock()
    batch: Linger[int] = Linger(10, 0.25, clock)
    clock.now += 5.0  # long after the previous batch was handed over
    batch.add(1)
    assert batch.wait_s() == pytest.approx(0.25)
    clock.now += 0.1
    batch.add(2)  # later events do not restart it
    assert batch.wait_s() == pytest.approx(0.15)
    clock.now += 0.2
    assert batch.wait_s() == 0.0
    assert batch.take() == [1, 2]


def test_events_that_waited_while_the_last_batch_was_written_are_due_at_once() -> None:
    clock = Clock()
    batch: Linger[int] = Linger(10, 0.25, clock)
    batch.add(1)
    clock.now += 0.4  # the agent was busy writing the previous batch
    batch.add(2)
    assert batch.wait_s() == 0.0


def test_a_full_batch_is_due_at_once_and_the_next_starts_empty() -> None:
    clock = Clock()
    batch: Linger[int] = Linger(2, 0.25, clock)
    batch.add(1)
    assert not batch.full
    batch.add(2)
    assert batch.full and batch.wait_s() == 0.0
    assert batch.take() == [1, 2]
    assert len(batch) == 0 and batch.wait_s() is None
    batch.add(3)
    assert batch.wait_s() == pytest.approx(0.25)


@pytest.mark.parametrize(("size", "linger"), [(0, 0.25), (10, -1.0)])
def test_nonsense_bounds_are_refused(size: int, linger: float) -> None:
    with pytest.raises(ValueError, match="max_items"):
        Linger(size, linger)
