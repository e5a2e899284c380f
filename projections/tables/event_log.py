"""The event-log projection: every event exactly once, with where it was read from.

Idempotent by construction: the table is a ReplacingMergeTree keyed by (case_id, event_id), so
a redelivered or re-produced event (same ``event_id``) collapses into one row. Read it with
``FINAL`` (or ``uniqExact(event_id)``) — a merge may not have run yet.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

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
