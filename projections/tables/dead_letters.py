"""The dead-letter table: every input the worker could not project, with its raw bytes.

Keyed by where the message was read (topic, partition, offset), so a redelivered bad message
is recorded once. ``reason`` is a short code (``too_short``, ``unknown_fingerprint``,
``illegal_transition:…``); ``detail`` is the human explanation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class DeadLetter:
    """One rejected message and why."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    raw: bytes
    reason: str
    detail: str
    case_id: str = ""
    event_id: str = ""
    event_type: str = ""

    def row(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "reason": self.reason,
            "detail": self.detail,
            "case_id": self.case_id,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "raw": self.raw,
            "seen_at": datetime.now(UTC),
        }
