"""`simulate`: merge every case's timeline into one stream ordered by occurred_at.

Each case's whole future is written when it is reported and parked in a heap; events leave the
heap once no later arrival can precede them. So memory holds the pending events of open cases
only, never the cases already finished.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from datetime import datetime, timedelta

from civicloop.schemas.event import Event
from civicloop.schemas.events import new_event
from civicloop.tools.simulate.arrivals import arrival_times
from civicloop.tools.simulate.case import SOURCES, Step, ts
from civicloop.tools.simulate.city import district_share
from civicloop.tools.simulate.config import SimConfig, Surge
from civicloop.tools.simulate.story import Storyteller

_FOREVER = timedelta(days=365_000)
# version nibble 4 and RFC 4122 variant bits 10
_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)


def simulate(
    days: int,
    cases_per_day: float,
    seed: int,
    start: datetime,
    config: SimConfig | None = None,
    validate: bool = False,
) -> Iterator[Event]:
    """Events of a simulated city from `start` for `days`, in occurred_at order.

    Deterministic: the same arguments give the same events, ids included. Nothing happens
    after `start + days`; cases still running then stay open (backlog, open-overdue).
    `validate=True` builds each event through `new_event` (the schema checks; about 2x slower);
    the default builds `Event` directly with exactly the fields `new_event` would produce.
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
    make = _checked_event if validate else _event
    # One heap entry per open case (its next step), so the heap grows with open cases only.
    # (time, case number, step index) orders ties deterministically and keeps case order.
    heap: list[tuple[int, int, int, str, list[Step]]] = []
    arrivals = heapq.merge(
        ((t, None) for t in arrival_times(story_rng, begin, end, cases_per_day, offset)),
        _surge_arrivals(cfg, seed, begin, end, cases_per_day),
        key=lambda item: item[0],
    )
    for n, (t0, surge) in enumerate(arrivals):
        while heap and heap[0][0] <= t0:
            yield make(id_rng, _advance(heap))
        case_id = f"{cfg.case_prefix}{seed}-{n:07d}"
        # Steps after `end` are cut: the case is still open when the simulation stops.
        steps = [s for s in teller.tell(case_id, t0, surge) if s[0] <= end]
        heapq.heappush(heap, (t0, n, 0, case_id, steps))
    while heap:
        yield make(id_rng, _advance(heap))


def _surge_arrivals(
    cfg: SimConfig, seed: int, begin: int, end: int, cases_per_day: float
) -> list[tuple[int, Surge | None]]:
    """The extra arrivals of every injected surge: (multiplier - 1) times the cell's own rate,
    with the same hour-of-day and weekday shape, in the surge's span (own random stream)."""
    rng = random.Random(f"civicloop-simulator-surges:{seed}")
    weights = {c.code: c.weight for c in cfg.categories}
    extra: list[tuple[int, Surge | None]] = []
    for surge in cfg.surges:
        if surge.category not in weights:
            raise ValueError(f"surge category {surge.category!r} is not a simulated category")
        share = weights[surge.category] / sum(weights.values()) * district_share(surge.district)
        lo, hi = max(begin, surge.start), min(end, surge.start + int(surge.hours * 3600))
        rate = (surge.multiplier - 1) * cases_per_day * share
        offset = int(cfg.utc_offset.total_seconds())
        extra += [(t, surge) for t in arrival_times(rng, lo, hi, rate, offset)]
    return sorted(extra, key=lambda item: item[0])


def _advance(heap: list[tuple[int, int, int, str, list[Step]]]) -> tuple[str, Step]:
    """Take the earliest pending step; put its case back keyed by its following step."""
    _, n, i, case_id, steps = heap[0]
    if i + 1 < len(steps):
        heapq.heapreplace(heap, (steps[i + 1][0], n, i + 1, case_id, steps))
    else:
        heapq.heappop(heap)
    return case_id, steps[i]


def _event(ids: random.Random, item: tuple[str, Step]) -> Event:
    case_id, (t, etype, actor, source, fields) = item
    event_id = _uuid4(ids.getrandbits(128))  # an escalation's fields carry the watchdog's id
    lag = int(ids.random() * 20)  # app-to-server lag, seconds
    if source == SOURCES["watchdog"]:
        # the watchdog's own escalation, byte for byte (streams/watchdog.py): its copy, if
        # the worker's watchdog also sends one, is a redelivery, not a conflicting duplicate
        lag = 0
    envelope = {
        "event_id": event_id,
        "case_id": case_id,
        "occurred_at": ts(t),
        "recorded_at": ts(t + lag),
        "actor": actor,  # built fresh for every step, never shared
        "source": source,
    }
    return Event(etype, envelope | fields)


def _uuid4(bits: int) -> str:
    """A version-4 UUID string from 128 random bits (what uuid.UUID(version=4) does, faster)."""
    h = "%032x" % (bits & _UUID_CLEAR | _UUID_SET)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _checked_event(ids: random.Random, item: tuple[str, Step]) -> Event:
    fields = dict(_event(ids, item).fields)
    envelope = {
        k: fields.pop(k) for k in ("event_id", "case_id", "occurred_at", "recorded_at", "actor", "source")
    }
    # The simulated clock may run ahead of the wall clock (a future start date): allow it.
    return new_event(item[1][1], max_future=_FOREVER, **envelope, **fields)
