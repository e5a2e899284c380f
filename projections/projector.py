"""Turning one batch of raw Kafka messages into projection rows, shared by worker and replay.

Per-message errors never escape: a message that cannot be decoded, or whose event is illegal
for its case (docs/DESIGN.md §3), becomes a dead letter with its raw bytes and the reason, and
its neighbours are projected normally. So does a message on which decoding, folding or row
building raises anything unexpected (a bug, not bad input): it is dead-lettered as
``internal:<ExceptionType>`` with the traceback, so one poison message never stalls its
partition. Only failures of the store or the broker escape ``project``; the caller retries
the whole batch for those. Writes happen per batch in a fixed order — dead letters,
event log, case rows, task rows, the case state with its offset watermark, and the batch's
progress marker last (what "projected" means to ``--wait``) — and the
caller acknowledges the offsets only after ``project`` returned. A crash anywhere replays the
batch: messages at or below a case's watermark are skipped, every other write is idempotent.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from civicloop import log
from civicloop.projections.fold.casestate import CaseState
from civicloop.projections.fold.lifecycle import IllegalTransition, fold
from civicloop.projections.state_store import Known, StateStore
from civicloop.projections.store.base import Store
from civicloop.projections.tables import event_log, progress
from civicloop.projections.tables.dead_letters import DeadLetter
from civicloop.projections.tables.rows import case_row, task_rows
from civicloop.projections.tables.schema import (
    CASE_LIFECYCLE,
    CASE_TASKS,
    DEAD_LETTERS,
    EVENT_LOG,
    PROGRESS,
)
from civicloop.schemas.codec import DecodeError, decode
from civicloop.schemas.event import Event

_log = log.get(__name__)
Fold = Callable[..., CaseState]


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
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by case
    projected_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    states: dict[str, Known] = field(default_factory=dict)
    # The case version each changed case had before this batch: its task rows are those after.
    versions_before: dict[str, int] = field(default_factory=dict)
    # What this batch folded into each case, for dead-lettering it if its rows cannot be built.
    folded: dict[str, list[tuple[RawMessage, Event]]] = field(default_factory=dict)
    cases: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)

    def build(self, result: BatchResult) -> None:
        """One case row per changed case, from its final state (the fold's intermediate states
        would be replaced by it anyway: ReplacingMergeTree keeps the highest version), and the
        rows of the tasks that changed. A case whose rows raise is left as it was before the
        batch: its messages become ``internal`` dead letters and its state is not saved."""
        for cid, since in self.versions_before.items():
            state = self.states[cid].state
            try:
                case = case_row(state)  # type: ignore[arg-type]
                tasks = task_rows(state, since_version=since)  # type: ignore[arg-type]
            except Exception as exc:
                result.dead.extend(_internal(msg, exc, event) for msg, event in self.folded[cid])
                result.projected -= len(self.events.pop(cid, ()))
                del self.states[cid]
                continue
            self.cases.append(case)
            self.tasks.extend(tasks)

    def event_rows(self) -> list[dict[str, Any]]:
        return [row for rows in self.events.values() for row in rows]


class Projector:
    """Decodes, folds and writes batches into one database."""

    def __init__(
        self,
        store: Store,
        database: str,
        publish_dead: Callable[[Sequence[DeadLetter]], None],
        state_capacity: int = 100_000,
        ignore_illegal: frozenset[str] = frozenset(),
        fold: Fold = fold,
    ) -> None:
        self.fold = fold  # the lifecycle fold; tests pass a faulty one to prove containment
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
            try:
                self._fold_one(msg, event, known, rows, result)
            except Exception as exc:
                result.dead.append(_internal(msg, exc, event))
        rows.build(result)
        self._write(batch, rows, result)
        return result

    def _decode(self, batch: Sequence[RawMessage], result: BatchResult) -> list[tuple[RawMessage, Event]]:
        decoded = []
        for msg in batch:
            try:
                decoded.append((msg, decode(msg.value or b"")))
            except DecodeError as exc:
                result.dead.append(_dead(msg, exc.reason, str(exc)))
            except Exception as exc:
                result.dead.append(_internal(msg, exc))
        return decoded

    def _fold_one(
        self, msg: RawMessage, event: Event, known: dict[str, Known], rows: _Rows, result: BatchResult
    ) -> None:
        case_id = event.case_id
        before = known.get(case_id)
        if before is not None and before.partition == msg.partition and msg.offset <= before.offset:
            result.skipped += 1  # fully projected before a crash or rebalance
            return
        old_state = before.state if before else None
        try:
            new_state: CaseState | None = self.fold(old_state, event, now=_record_time(msg))
        except IllegalTransition as exc:
            if exc.reason not in self.ignore_illegal:
                result.dead.append(_dead(msg, f"illegal:{exc.reason}", str(exc), event))
            new_state = old_state
        else:
            rows.events.setdefault(case_id, []).append(
                event_log.row(
                    event, msg.topic, msg.partition, msg.offset, msg.value or b"", rows.projected_at
                )
            )
            rows.folded.setdefault(case_id, []).append((msg, event))
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
        self.store.insert(f"{db}.{DEAD_LETTERS}", [d.row() for d in result.dead])
        self.store.insert(f"{db}.{EVENT_LOG}", rows.event_rows())
        self.store.insert(f"{db}.{CASE_LIFECYCLE}", rows.cases)
        self.store.insert(f"{db}.{CASE_TASKS}", rows.tasks)
        self.states.save(rows.states)
        # The batch's marker goes last: once it is there, every effect of the batch is stored.
        marks = progress.rows(((m.topic, m.partition, m.offset) for m in batch), rows.projected_at)
        self.store.insert(f"{db}.{PROGRESS}", marks)

    def project_until_written(
        self, batch: Sequence[RawMessage], should_stop: Callable[[], bool] = lambda: False
    ) -> BatchResult:
        """Retry the whole batch until it is written: the store being down must not ack it.
        Whatever ``project`` raises is a store or broker failure (per-message errors, bugs
        included, became dead letters inside it)."""
        delay = 0.5
        while True:
            try:
                return self.project(batch)
            except Exception as exc:
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


def _internal(msg: RawMessage, exc: Exception, event: Event | None = None) -> DeadLetter:
    """The dead letter for a message on which civicloop's own code raised: the reason names
    the exception type, the detail carries the traceback for whoever fixes the bug."""
    _log.error(
        "message_internal_error", topic=msg.topic, partition=msg.partition, offset=msg.offset, error=repr(exc)
    )
    trace = "".join(traceback.format_exception(exc))
    return _dead(msg, f"internal:{type(exc).__name__}", trace, event)


def _dead(msg: RawMessage, reason: str, detail: str, event: Event | None = None) -> DeadLetter:
    return DeadLetter(
        topic=msg.topic,
        partition=msg.partition,
        offset=msg.offset,
        key=msg.key,
        raw=msg.value or b"",
        reason=reason,
        detail=detail,
        case_id=event.case_id if event else (msg.key or b"").decode(errors="replace"),
        event_id=event.event_id if event else "",
        event_type=event.type if event else "",
    )
