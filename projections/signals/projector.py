"""The signals table: projecting the signals topic through the case projection's pipeline.

Decode with the signals contract, one row per signal keyed by its deterministic ``event_id``
(ReplacingMergeTree), written by the same :class:`~civicloop.projections.projector.Writer` as
the case tables (every row checked against its column first, dead letters before the rows, the
batch's progress marker last). Being a :class:`~civicloop.projections.projector.Projection`,
it gets the rest for free: a batch the store refuses for its content is split down to the
message it came from, which is dead-lettered ``store_rejected:<code>``; any other failure of
the store retries the whole batch, its offsets unacknowledged until it is written
(``project_until_written``). A message that is not a readable signal is a dead letter with its
raw bytes. docs/SIGNALS.md.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from civicloop.projections.projector import BatchResult, Projection, RawMessage, Writer
from civicloop.projections.store.base import Store
from civicloop.projections.tables.dead_letters import DeadLetter
from civicloop.projections.tables.schema import SIGNALS
from civicloop.schemas.codec import DecodeError
from civicloop.schemas.signals import Signal, decode_signal, signal_to_json


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


class SignalProjection(Projection):
    """Writes batches of the signals topic into one database."""

    def __init__(
        self, store: Store, database: str, publish_dead: Callable[[Sequence[DeadLetter]], None]
    ) -> None:
        self.writer = Writer(store, database, publish_dead)

    def project(self, batch: Sequence[RawMessage]) -> BatchResult:
        result, rows = BatchResult(), []
        projected_at = datetime.now(UTC)
        for msg in batch:
            try:
                rows.append(row(decode_signal(msg.value or b""), msg, projected_at))
            except DecodeError as exc:
                result.dead.append(_dead(msg, exc.reason, str(exc)))
            except Exception as exc:  # a bug, not bad input: the message must not stall its topic
                trace = "".join(traceback.format_exception(exc, chain=False))
                result.dead.append(_dead(msg, f"internal:{type(exc).__name__}", trace))
        result.projected = len(rows)
        # Checked against the columns before anything is written: content the store cannot
        # hold raises StoreRejected here, and project_or_split finds the message it came from.
        table = self.writer.columns.rows_table(SIGNALS, rows)
        self.writer.write(batch, result.dead, [(SIGNALS, table)], projected_at)
        return result

    def forget(self) -> None:
        """Nothing cached: each signal is its own row."""


def _dead(msg: RawMessage, reason: str, detail: str) -> DeadLetter:
    key = (msg.key or b"").decode(errors="replace")
    return DeadLetter(msg.topic, msg.partition, msg.offset, msg.key, msg.value or b"", reason, detail, key)
