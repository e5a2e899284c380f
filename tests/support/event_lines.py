"""JSON Lines of events for the ``produce`` tests: valid lines of several types, and broken ones.

Valid lines are the JSON form of one sample event per type with a fresh event_id and case_id,
so a hundred thousand of them take well under a second to write; ``produce`` validates them.
Each broken kind is a valid line with one defect, and names the field a report must blame.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable
from typing import Any

from civicloop.schemas.events import EVENT_TYPES, event_to_json, new_event
from civicloop.schemas.registry import registry
from civicloop.schemas.samples import sample_fields

JsonObject = dict[str, Any]
# Mostly new reports, like a hotline day; every other type shows up too.
_OTHER_TYPES = tuple(t for t in EVENT_TYPES if t != "CaseReported")


@functools.cache
def _templates() -> dict[str, JsonObject]:
    return {t: event_to_json(new_event(t, **sample_fields(registry().latest(t)))) for t in EVENT_TYPES}


def event_id(n: int, run: str = "produce") -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"civicloop-test:{run}:{n}"))


def valid_object(n: int, run: str = "produce") -> JsonObject:
    """The ``n``-th valid event: 7 in 10 are CaseReported, the rest cycle through the others."""
    event_type = "CaseReported" if n % 10 < 7 else _OTHER_TYPES[n % len(_OTHER_TYPES)]
    return {**_templates()[event_type], "event_id": event_id(n, run), "case_id": f"{run}-{n // 4:06d}"}


def line(obj: JsonObject) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _with(path: str, value: Any) -> Callable[[JsonObject], JsonObject]:
    def broken(obj: JsonObject) -> JsonObject:
        head, _, leaf = path.rpartition(".")
        copy = json.loads(json.dumps(obj))
        (copy[head] if head else copy)[leaf] = value
        return copy

    return broken


def _without(name: str) -> Callable[[JsonObject], JsonObject]:
    return lambda obj: {k: v for k, v in obj.items() if k != name}


# kind -> (how to break a valid CaseReported object, the field the report must name or None)
DEFECTS: dict[str, tuple[Callable[[JsonObject], JsonObject], str | None]] = {
    "unknown_type": (_with("type", "CaseExploded"), "type"),
    "bad_enum": (_with("channel", "carrier_pigeon"), "channel"),
    "lat_out_of_range": (_with("location.lat", 95.5), "location.lat"),
    "naive_timestamp": (_with("occurred_at", "2024-05-01T09:30:00"), "occurred_at"),
    "missing_field": (_without("category"), "category"),
    "bad_uuid": (_with("event_id", "not-a-uuid"), "event_id"),
}
KINDS = ("invalid_json", *DEFECTS)


def bad_line(kind: str, n: int, run: str = "produce") -> tuple[str, str | None]:
    """A broken line of ``kind`` and the field its report must name (None: not JSON at all)."""
    obj = {**_templates()["CaseReported"], "event_id": event_id(n, run), "case_id": f"{run}-bad-{n}"}
    if kind == "invalid_json":
        return line(obj)[:-25], None  # cut off mid-object, as a truncated copy would be
    breaker, field = DEFECTS[kind]
    return line(breaker(obj)), field
