"""Turning one batch of raw Kafka messages into projection rows, shared by worker and replay.

Per-message errors never escape: a message that cannot be decoded, or whose event is illegal
for its case (DESIGN §3), becomes a dead letter with its raw bytes and the reason, and its
neighbours are projected normally. Writes happen per batch in a fixed order — dead letters,
event log, case rows, task rows, the case state with its offset watermark, and the batch's
progress marker last (what "projected" means to ``--wait``) — and the
caller acknowledges the offsets only after ``project`` returned. A crash anywhere replays the
batch: messages at or below a case's watermark are skipped, every other write is idempotent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from civicloop import log
from civicloop.projections import ddl, dead_letters, event_log, progress
from civicloop.projections.dead_letters import DeadLetter
from civicloop.projections.lifecycle import IllegalTransition, fold
from civicloop.projections.rows import case_row, task_rows
from civicloop.projections.state_store import Known, StateStore
from civicloop.projections.store import Store
from civicloop.schemas.codec import DecodeError, decode
from civicloop.schemas.event import Event

_log = log.get(__name__)


@dataclass(frozen=True)
class RawMessage:
    """A message as read from Kafka, before any decoding."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int | None = None


@dataclass
class BatchResult:
    projected: int = 0
    skipped: int = 0
    dead: list[DeadLetter] = field(default_factory=list)


@dataclass
class _Rows:
    events: list[dict[str, Any]] = field(default_factory=list)
    projected_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    states: dict[str, Known] = field(default_factory=dict)
    # The case version each changed case had before this batch: its task rows are those after.
    versions_before: dict[str, int] = field(default_factory=dict)

    def cases(self) -> list[dict[str, Any]]:
        # One row per case per batch, from its final state: the fold's intermediate states
        # would be replaced by it anyway (ReplacingMergeTree keeps the highest version).
        return [case_row(self.states[cid].state) for cid in self.versions_before]  # type: ignore[arg-type]

    def tasks(self) -> list[dict[str, Any]]:
        return [row for cid, since in self.versions_before.items()
                for row in task_rows(self.states[cid].state, since_version=since)]  # type: ignore[arg-type]


class Projector:
    """Decodes, folds and writes batches into one database."""

    def __init__(self, store: Store, database: str,
                 publish_dead: Callable[[Sequence[DeadLetter]], None],
                 state_capacity: int = 100_000, ignore_illegal: frozenset[str] = frozenset()) -> None:
        self.store = store
        self.ignore_illegal = ignore_illegal
        self.database = database
        self.publish_dead = publish_dead
        self.states = StateStore(store, database, state_capacity)

    def project(self, batch: Sequence[RawMessage]) -> BatchResult:
        result = BatchResult()
        decoded = self._decode(batch, result)
        known = self.states.load({event.case_id for _, event in decoded})
        rows = _Rows()
        for msg, event in decoded:
            self._fold_one(msg, event, known, rows, result)
        self._write(batch, rows, result)
        return result

    def _decode(self, batch: Sequence[RawMessage], result: BatchResult) -> list[tuple[RawMessage, Event]]:
        decoded = []
        for msg in batch:
            try:
                decoded.append((msg, decode(msg.value or b"")))
            except DecodeError as exc:
                result.dead.append(_dead(msg, exc.reason, str(exc)))
        return decoded

    def _fold_one(self, msg: RawMessage, event: Event, known: dict[str, Known], rows: _Rows,
                  result: BatchResult) -> None:
        case_id = event.case_id
        before = known.get(case_id)
        if before is not None and before.partition == msg.partition and msg.offset <= before.offset:
            result.skipped += 1  # fully projected before a crash or rebalance
            return
        old_state = before.state if before else None
        try:
            new_state = fold(old_state, event, now=_record_time(msg))
        except IllegalTransition as exc:
            if exc.reason not in self.ignore_illegal:
                result.dead.append(_dead(msg, f"illegal:{exc.reason}", str(exc), event))
            new_state = old_state
        else:
            rows.events.append(event_log.row(event, msg.topic, msg.partition, msg.offset,
                                             msg.value or b"", rows.projected_at))
            result.projected += 1
        after = Known(new_state, msg.partition, msg.offset)
        known[case_id] = rows.states[case_id] = after
        if new_state is not None and new_state is not old_state:
            rows.versions_before.setdefault(case_id, old_state.version if old_state else 0)

    def _write(self, batch: Sequence[RawMessage], rows: _Rows, result: BatchResult) -> None:
        db = self.database
        if result.dead:
            # Published before the batch's offsets can be acknowledged: nothing is lost, and a
            # replayed batch publishes again (at-least-once; the table is keyed by offset).
            self.publish_dead(result.dead)
        self.store.insert(f"{db}.{dead_letters.TABLE}", [d.row() for d in result.dead])
        self.store.insert(f"{db}.{event_log.TABLE}", rows.events)
        self.store.insert(f"{db}.{ddl.CASE_LIFECYCLE}", rows.cases())
        self.store.insert(f"{db}.{ddl.CASE_TASKS}", rows.tasks())
        self.states.save(rows.states)
        # The batch's marker goes last: once it is there, every effect of the batch is stored.
        marks = progress.rows(((m.topic, m.partition, m.offset) for m in batch), rows.projected_at)
        self.store.insert(f"{db}.{progress.TABLE}", marks)

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
                # The cache may hold states of the failed batch: reload them from the store.
                self.states.forget()
                _log.error("batch_write_failed", error=repr(exc), retry_in_s=delay, size=len(batch))
                time.sleep(delay)
                delay = min(delay * 2, 30.0)


def _record_time(msg: RawMessage) -> datetime | None:
    if msg.timestamp_ms is None or msg.timestamp_ms <= 0:
        return None
    return datetime.fromtimestamp(msg.timestamp_ms / 1000, UTC)


def _dead(msg: RawMessage, reason: str, detail: str, event: Event | None = None) -> DeadLetter:
    return DeadLetter(
        topic=msg.topic, partition=msg.partition, offset=msg.offset, key=msg.key,
        raw=msg.value or b"", reason=reason, detail=detail,
        case_id=event.case_id if event else (msg.key or b"").decode(errors="replace"),
        event_id=event.event_id if event else "", event_type=event.type if event else "",
    )
