"""The end-to-end benchmarks' input: a simulated city's events, encoded once, cut at N.

``tools.simulate`` gives complete case timelines in time order; taking the first N events of
a month leaves the last cases mid-life, which the projections handle like any open case.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from civicloop.schemas.codec import encode
from civicloop.tools.bench.broker import KeyValue
from civicloop.tools.simulate import simulate

DAYS = 28
# A simulated case has about 7.7 events; cases reported near the end have fewer. Asking for
# cases at 5 events each leaves a margin, and nothing after the N-th event is generated.
_EVENTS_PER_CASE_LOW = 5
START = datetime(2025, 3, 3, tzinfo=UTC)


@dataclass
class Encoded:
    messages: list[KeyValue]  # (case id, single-object-encoded event), in stream order
    cases: int


def scale(count: int) -> tuple[int, float]:
    """(days, cases per day) whose simulation has at least ``count`` events."""
    return DAYS, float(math.ceil(count / (DAYS * _EVENTS_PER_CASE_LOW)))


def encoded(
    count: int, seed: int, advance: Callable[[int], None] = lambda n: None, chunk: int = 10_000
) -> Encoded:
    """The first ``count`` simulated events, encoded; ``advance`` is called every ``chunk``."""
    days, per_day = scale(count)
    messages: list[KeyValue] = []
    cases: set[str] = set()
    for event in itertools.islice(simulate(days, per_day, seed, START), count):
        messages.append((event.case_id.encode(), encode(event)))
        cases.add(event.case_id)
        if len(messages) % chunk == 0:
            advance(chunk)
    advance(len(messages) % chunk)
    if len(messages) < count:
        raise RuntimeError(f"the simulation gave {len(messages)} events, fewer than {count}")
    return Encoded(messages, len(cases))
