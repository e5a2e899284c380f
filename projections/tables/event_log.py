"""The event-log projection: every event exactly once, with where it was read from.

Idempotent by construction: the table is a ReplacingMergeTree keyed by (case_id, event_id), so
a redelivered or re-produced event (same ``event_id``) collapses into one row. Read it with
``FINAL`` (or ``uniqExact(event_id)``) — a merge may not have run yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from civicloop.schemas.event import Event


def row(
    event: Event,
    topic: str,
    partition: int,
    offset: int,
    payload: bytes,
    projected_at: datetime | None = None,
) -> dict[str, Any]:
    """The event-log row for one decoded event read at (topic, partition, offset); a batch
    passes one ``projected_at`` for all its rows (default: now)."""
    actor = event.fields.get("actor") or {}
    return {
        "event_id": event.event_id,
        "case_id": event.case_id,
        "type": event.type,
        "schema_version": event.version,
        "occurred_at": event.occurred_at,
        "recorded_at": event.fields["recorded_at"],
        "actor_type": actor.get("type", ""),
        "actor_id": actor.get("id", ""),
        "source": event.fields.get("source", ""),
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "payload": payload,
        "projected_at": projected_at or datetime.now(UTC),
    }


class Read(Protocol):
    """Where a message was read: what ``columns`` needs of it (a ``RawMessage``)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def value(self) -> bytes | None: ...


def columns(read: Sequence[tuple[Read, Event]], projected_at: datetime) -> dict[str, list[Any]]:
    """The rows of ``row`` for each (message, event), as columns: the projector's form, one
    list per column instead of one dict per event (a batch holds tens of thousands)."""
    fields = [event.fields for _, event in read]
    actors = [f.get("actor") or {} for f in fields]
    return {
        "event_id": [f["event_id"] for f in fields],
        "case_id": [f["case_id"] for f in fields],
        "type": [event.type for _, event in read],
        "schema_version": [event.version for _, event in read],
        "occurred_at": [f["occurred_at"] for f in fields],
        "recorded_at": [f["recorded_at"] for f in fields],
        "actor_type": [a.get("type", "") for a in actors],
        "actor_id": [a.get("id", "") for a in actors],
        "source": [f.get("source", "") for f in fields],
        "topic": [msg.topic for msg, _ in read],
        "partition": [msg.partition for msg, _ in read],
        "offset": [msg.offset for msg, _ in read],
        "payload": [msg.value or b"" for msg, _ in read],
        "projected_at": [projected_at] * len(read),
    }
