"""Batches for the worker's agents that close when their *oldest* event has waited ``linger``
seconds, or when they are full (docs/DESIGN.md §8, "Batching in the worker").

Faust's ``take_events(max, within)`` starts its ``within`` timer only when the agent asks for
the next batch, and it keeps new events out of its buffer while the agent is still busy with
the current one. Under steady load every event therefore waits for the batch being written,
then a whole ``within`` more, then its own batch: about twice the write time plus the window.
Here events keep arriving in the next batch while the current one is written, each batch's
clock starts at its first event, and a batch whose first event has already waited ``linger``
is handed over the moment the agent asks. At 5,000 events/s that takes the window out of the
latency (docs/BENCHMARKS.md).

Delivery is unchanged: an event is acknowledged only after the agent's work on its batch
returned — never on the way out of a failed or cancelled batch, so a batch that was not
written is redelivered (docs/DESIGN.md §6).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Generic, TypeVar

import faust

T = TypeVar("T")


class Linger(Generic[T]):
    """The batch being gathered: when it is due, and what it holds (no I/O, no event loop)."""

    def __init__(self, max_items: int, linger_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        if max_items < 1 or linger_s < 0:
            raise ValueError(f"a batch needs max_items ≥ 1 and linger ≥ 0, not {max_items} and {linger_s}")
        self.max_items = max_items
        self.linger_s = linger_s
        self._clock = clock
        self._items: list[T] = []
        self._first_at = 0.0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def full(self) -> bool:
        return len(self._items) >= self.max_items

    def add(self, item: T) -> None:
        if not self._items:
            self._first_at = self._clock()
        self._items.append(item)

    def wait_s(self) -> float | None:
        """Seconds until the batch is due: None while it is empty, 0 when it is due now."""
        if not self._items:
            return None
        if self.full:
            return 0.0
        return max(0.0, self._first_at + self.linger_s - self._clock())

    def take(self) -> list[T]:
        """The batch, and an empty one in its place."""
        items, self._items = self._items, []
        return items


def take_lingering(stream: faust.StreamT, max_events: int, linger_s: float) -> AsyncIterator[list[Any]]:
    """Batches of ``stream``'s events (``faust.EventT``), acknowledged when the agent asks for
    the next one. Built on the same stream hooks as Faust's own ``take_events``, and, like it,
    registered with the stream so that stopping the stream closes it."""
    batches = _lingering(stream, Linger(max_events, linger_s))
    internal: Any = stream  # faust's own take_events uses these hooks; StreamT does not declare them
    internal._active_agens.add(batches)
    return batches


async def _lingering(stream: faust.StreamT, batch: Linger[Any]) -> AsyncIterator[list[Any]]:
    internal: Any = stream  # the hooks of Faust's take_events, which StreamT does not declare
    arrived = asyncio.Event()  # the batch got its first event, or became full
    room = asyncio.Event()  # a full batch was handed over

    async def gather(value: Any) -> Any:
        while batch.full:  # back-pressure: never more than max_items waiting
            room.clear()
            if (await internal.wait(room)).stopped:
                return value  # stopping: left unacknowledged, so delivered again later
        event = stream.current_event
        if event is None:
            raise RuntimeError("the stream has no current event to batch")
        batch.add(event)
        if len(batch) == 1 or batch.full:
            arrived.set()
        return value

    acks = internal.enable_acks
    internal.enable_acks = False
    internal.add_processor(gather)
    internal._enable_passive(aiter(internal.channel))
    try:
        while not stream.should_stop:
            wait = batch.wait_s()
            if wait is None or wait > 0:
                arrived.clear()
                await internal.wait_for_stopped(arrived, timeout=wait)
                continue
            events = batch.take()
            room.set()
            yield events
            for event in events:  # only once the agent's work on them returned
                await stream.ack(event)
    finally:
        internal.enable_acks = acks
        internal._processors.remove(gather)
