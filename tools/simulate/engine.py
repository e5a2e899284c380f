"""`simulate`: merge every case's timeline into one stream ordered by occurred_at.

Each case's whole future is written when it is reported and parked in a heap; events leave the
heap once no later arrival can precede them. So memory holds the pending events of open cases
only, never the cases already finished.
"""

from __future__ import annotations

import heapq
import random
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

from civicloop.schemas.event import Event
from civicloop.tools.simulate.arrivals import arrival_times
from civicloop.tools.simulate.case import Step, ts
from civicloop.tools.simulate.config import SimConfig
from civicloop.tools.simulate.story import Storyteller


def simulate(
    days: int, cases_per_day: float, seed: int, start: datetime, config: SimConfig | None = None
) -> Iterator[Event]:
    """Events of a simulated city from `start` for `days`, in occurred_at order.

    Deterministic: the same arguments give the same events, ids included. Nothing happens
    after `start + days`; cases still running then stay open (backlog, open-overdue).
    """
    if start.tzinfo is None:
        raise ValueError(f"start must be timezone-aware (UTC), got naive {start.isoformat()}")
    cfg = config or SimConfig()
    begin = int(start.timestamp())
    end = int((start + timedelta(days=days)).timestamp())
    story_rng = random.Random(seed)
    # Ids and recording lags come from their own generator so that changing how ids are made
    # never changes the workload itself.
    id_rng = random.Random(f"civicloop-simulator-ids:{seed}")
    teller = Storyteller(cfg, story_rng, salt=seed.to_bytes(16, "big", signed=True))
    offset = int(cfg.utc_offset.total_seconds())
    heap: list[tuple[int, int, str, Step]] = []
    seq = 0
    for n, t0 in enumerate(arrival_times(story_rng, begin, end, cases_per_day, offset)):
        while heap and heap[0][0] <= t0:
            yield _event(id_rng, *heapq.heappop(heap)[2:])
        case_id = f"{cfg.case_prefix}{seed}-{n:07d}"
        for step in teller.tell(case_id, t0):
            if step[0] > end:
                break  # the case is still open when the simulation stops
            heapq.heappush(heap, (step[0], seq, case_id, step))
            seq += 1
    while heap:
        yield _event(id_rng, *heapq.heappop(heap)[2:])


def _event(ids: random.Random, case_id: str, step: Step) -> Event:
    t, etype, actor, source, fields = step
    occurred = ts(t)
    envelope = {
        "event_id": str(uuid.UUID(int=ids.getrandbits(128), version=4)),
        "case_id": case_id,
        "occurred_at": occurred,
        "recorded_at": ts(t + int(ids.random() * 20)),  # app-to-server lag, seconds
        "actor": dict(actor),
        "source": source,
    }
    return Event(etype, envelope | fields)
