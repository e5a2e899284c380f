"""The signals table: projecting the signals topic, batch by batch, idempotently.

Its own small consumption path beside the case projector (docs/SIGNALS.md): decode with the
signals contract, one row per signal keyed by its deterministic ``event_id``
(ReplacingMergeTree), then the batch's progress marker last. A message that is not a readable
signal becomes a dead letter with its raw bytes; store failures escape ``project`` and the
whole batch is retried, its offsets unacknowledged until it is written.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from civicloop import log
from civicloop.projections.projector import RawMessage
from civicloop.projections.store.base import Store
from civicloop.projections.tables import progress
from civicloop.projections.tables.dead_letters import DeadLetter
from civicloop.projections.tables.schema import DEAD_LETTERS, PROGRESS, SIGNALS
from civicloop.schemas.codec import DecodeError
from civicloop.schemas.signals import Signal, decode_signal, signal_to_json

_log = log.get(__name__)


@dataclass
class SignalBatch:
    projected: int = 0
    dead: list[DeadLetter] = field(default_factory=list)


def row(signal: Signal, msg: RawMessage, projected_at: datetime) -> dict[str, Any]:
    f = signal.fields
    recurring = signal.type == "RecurringProblemDetected"
    start = f["window_start"] if not recurring else f["first_reported_at"]
    return {
        "event_id": signal.event_id,
        "type": signal.type,
        "occurred_at": f["occurred_at"],
        "recorded_at": f["recorded_at"],
        "level": f.get("level", "grid"),
        "category": f["category"],
        "place": f["place"],
        "window_size": f.get("window", ""),
        "window_start": start,
        "window_end": f["window_end"] if not recurring else f["occurred_at"],
        "observed": f.get("observed", f.get("cases", 0)),
        "expected": f.get("expected", 0.0),
        "threshold": f.get("threshold", f.get("min_cases", 0)),
        "p_value": f.get("p_value"),
        "related_id": f.get("surge_id", ""),
        "detail": json.dumps(signal_to_json(signal), ensure_ascii=False),
        "topic": msg.topic,
        "partition": msg.partition,
        "offset": msg.offset,
        "projected_at": projected_at,
    }


class SignalProjector:
    """Writes batches of the signals topic into one database."""

    def __init__(
        self, store: Store, database: str, publish_dead: Callable[[Sequence[DeadLetter]], None]
    ) -> None:
        self.store, self.database, self.publish_dead = store, database, publish_dead

    def project(self, batch: Sequence[RawMessage]) -> SignalBatch:
        result, rows = SignalBatch(), []
        now = datetime.now(UTC)
        for msg in batch:
            try:
                rows.append(row(decode_signal(msg.value or b""), msg, now))
            except DecodeError as exc:
                result.dead.append(_dead(msg, exc.reason, str(exc)))
            except Exception as exc:
                result.dead.append(_dead(msg, f"internal:{type(exc).__name__}", traceback.format_exc()))
        result.projected = len(rows)
        if result.dead:
            self.publish_dead(result.dead)  # before the offsets can be acknowledged
        db = self.database
        self.store.insert(f"{db}.{DEAD_LETTERS}", [d.row() for d in result.dead])
        self.store.insert(f"{db}.{SIGNALS}", rows)
        marks = progress.rows(((m.topic, m.partition, m.offset) for m in batch), now)
        self.store.insert(f"{db}.{PROGRESS}", marks)  # last: the batch is complete
        return result

    def project_until_written(
        self, batch: Sequence[RawMessage], should_stop: Callable[[], bool] = lambda: False
    ) -> SignalBatch:
        """Retry the whole batch until it is written (the store being down must not ack it)."""
        delay = 0.5
        while True:
            try:
                return self.project(batch)
            except Exception as exc:
                if should_stop():
                    raise
                _log.error("signal_batch_write_failed", error=repr(exc), retry_in_s=delay, size=len(batch))
                time.sleep(delay)
                delay = min(delay * 2, 30.0)


def _dead(msg: RawMessage, reason: str, detail: str) -> DeadLetter:
    key = (msg.key or b"").decode(errors="replace")
    return DeadLetter(msg.topic, msg.partition, msg.offset, msg.key, msg.value or b"", reason, detail, key)
