"""The events the benchmarks time: a realistic mix of all 14 types, the same on every run.

Field values start from each type's committed sample (``schemas.samples``), so a new schema
version is picked up without touching this file; ids, times and descriptions vary per event,
so no cache or interning can flatter the figures.
"""

from __future__ import annotations

import functools
import random
import uuid
from datetime import timedelta
from typing import Any

from civicloop.schemas.event import Event
from civicloop.schemas.events import new_event
from civicloop.schemas.registry import registry
from civicloop.schemas.samples import SAMPLE_TIME, sample_fields

# Events per 100 reported cases in a month of a city hotline: most cases run the whole loop,
# a few are voided, returned, escalated or reopened.
MIX: dict[str, int] = {
    "CaseReported": 100,
    "CaseRegistered": 92,
    "CaseVoided": 8,
    "TaskDispatched": 104,
    "TaskAccepted": 100,
    "TaskReturned": 4,
    "CitizenContacted": 60,
    "DeadlineExtended": 10,
    "CaseEscalated": 6,
    "TaskDisposed": 96,
    "CaseChecked": 92,
    "CaseClosed": 92,
    "FeedbackReceived": 45,
    "CaseReopened": 3,
}
_WORDS = (
    "pothole",
    "streetlight",
    "noise",
    "after 22:00",
    "water leaking",
    "garbage not collected",
    "路灯不亮",
    "噪音扰民",
    "道路破损",
    "积水",
    "near the school gate",
    "third time reported",
)
Spec = tuple[str, dict[str, Any]]  # (event type, keyword arguments of new_event)


def specs(count: int, seed: int = 12345) -> list[Spec]:
    """``count`` (type, fields) pairs in the proportions of ``MIX``; valid for ``new_event``."""
    rng = random.Random(seed)
    types = rng.choices(list(MIX), weights=list(MIX.values()), k=count)
    return [(t, _fields(t, n, rng)) for n, t in enumerate(types)]


def events(count: int, seed: int = 12345) -> list[Event]:
    return [new_event(t, **fields) for t, fields in specs(count, seed)]


@functools.cache
def _sample(event_type: str) -> dict[str, Any]:
    return sample_fields(registry().latest(event_type))


def _fields(event_type: str, n: int, rng: random.Random) -> dict[str, Any]:
    at = SAMPLE_TIME + timedelta(seconds=n * 13)
    fields = {
        **_sample(event_type),  # shallow: nested records are shared, and nothing writes to them
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "case_id": f"bench-{n // 7:07d}",  # about 7 events a case, so keys repeat as in a real stream
        "occurred_at": at,
        "recorded_at": at + timedelta(milliseconds=rng.randrange(60_000)),
    }
    if "description" in fields:  # reports run from a few words to a paragraph
        fields["description"] = " ".join(rng.choices(_WORDS, k=rng.randrange(3, 40)))
    return fields
