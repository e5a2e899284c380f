"""Turning one batch of raw Kafka messages into projection rows, shared by worker and replay.

Per-message errors never escape: a message that cannot be decoded (or, later, folded) becomes a
dead letter with its raw bytes and the reason, and its neighbours are projected normally. The
batch is written as a whole; the caller acknowledges the offsets only after ``project`` returned,
so a crash anywhere in here replays the batch, and every table is idempotent under that replay.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from civicloop import log
from civicloop.projections import dead_letters, event_log
from civicloop.projections.dead_letters import DeadLetter
from civicloop.projections.store import Store
from civicloop.schemas.codec import DecodeError, decode

_log = log.get(__name__)


@dataclass(frozen=True)
class RawMessage:
    """A message as read from Kafka, before any decoding."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass
class BatchResult:
    projected: int = 0
    dead: list[DeadLetter] = field(default_factory=list)


class Projector:
    """Decodes, validates and writes batches into one database."""

    def __init__(self, store: Store, database: str,
                 publish_dead: Callable[[Sequence[DeadLetter]], None]) -> None:
        self.store = store
        self.database = database
        self.publish_dead = publish_dead

    def project(self, batch: Sequence[RawMessage]) -> BatchResult:
        result = BatchResult()
        rows = []
        for msg in batch:
            payload = msg.value or b""
            try:
                event = decode(payload)
            except DecodeError as exc:
                result.dead.append(_dead(msg, exc.reason, str(exc)))
                continue
            rows.append(event_log.row(event, msg.topic, msg.partition, msg.offset, payload))
        if result.dead:
            # Published before the batch's offsets can be acknowledged: nothing is lost, and a
            # replayed batch publishes again (at-least-once; the table is keyed by offset).
            self.publish_dead(result.dead)
        self.store.insert(f"{self.database}.{dead_letters.TABLE}", [d.row() for d in result.dead])
        self.store.insert(f"{self.database}.{event_log.TABLE}", rows)
        result.projected = len(rows)
        return result

    def project_until_written(self, batch: Sequence[RawMessage],
                              should_stop: Callable[[], bool] = lambda: False) -> BatchResult:
        """Retry the whole batch until it is written: the store being down must not ack it."""
        delay = 0.5
        while True:
            try:
                return self.project(batch)
            except Exception as exc:  # noqa: BLE001 - any write failure is retried
                if should_stop():
                    raise
                _log.error("batch_write_failed", error=repr(exc), retry_in_s=delay,
                           size=len(batch))
                time.sleep(delay)
                delay = min(delay * 2, 30.0)


def _dead(msg: RawMessage, reason: str, detail: str) -> DeadLetter:
    return DeadLetter(topic=msg.topic, partition=msg.partition, offset=msg.offset, key=msg.key,
                      raw=msg.value or b"", reason=reason, detail=detail,
                      case_id=(msg.key or b"").decode(errors="replace"))
