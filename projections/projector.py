"""Turning one batch of raw Kafka messages into projection rows, shared by worker and replay.

Per-message errors never escape: a message that cannot be decoded, that breaks the event
contract (``invalid:<field>``: the checks the SDK makes, docs/TRUST.md §1), that sits under
another key or on another partition than its case (``misrouted``), whose event is illegal
for its case (docs/DESIGN.md §3), or that reuses an event id the case has folded with another
body (``conflicting_duplicate``, §6), becomes a dead letter with its raw bytes and the reason, and
its neighbours are projected normally. So does a message on which decoding, folding or row
building raises anything unexpected (a bug, not bad input): it is dead-lettered as
``internal:<ExceptionType>`` with the traceback, so one poison message never stalls its
partition.

Writes happen per batch in a fixed order — dead letters, the months it touches
(``period_spans``), event log, case rows, task rows, the case state with its offset watermark,
and the batch's progress marker last (what "projected" means to ``--wait``) — after every row was
checked against its column's type, and the caller acknowledges the offsets only after the batch
was written. A crash anywhere replays the batch: messages at or below a case's watermark are
skipped, every other write is idempotent. A copy of an event the case has already folded (same
id, same body) is skipped as well: only an event's first copy is ever written to the event log.
After the marker, the months the batches touched are counted into ``metric_rollup`` now and then
(a cache that all time reads where it is still current: ``metrics/rollup.py``).

A batch the store refuses for its content (:class:`StoreRejected`) is split in halves until
the message(s) it came from are alone; those are dead-lettered as ``store_rejected:<code>`` and
the rest is written (``project_or_split``; docs/TRUST.md §2). Anything else ``project`` raises is
a failure of the store or the broker themselves: ``project_until_written`` retries the whole
batch, with backoff, until it is written or the worker stops.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from civicloop import log
from civicloop.projections.contract import UNRECORDED, Boundaries, Contract
from civicloop.projections.fold.casestate import CaseState, body_digest
from civicloop.projections.fold.lifecycle import IllegalTransition, fold
from civicloop.projections.metrics import rollup
from civicloop.projections.state_store import Known, StateCache, StateStore, state_rows
from civicloop.projections.store.base import Store, StoreRejected
from civicloop.projections.tables import event_log, fit, periods, progress
from civicloop.projections.tables.dead_letters import DeadLetter
from civicloop.projections.tables.rows import case_row, task_rows
from civicloop.projections.tables.schema import (
    CASE_LIFECYCLE,
    CASE_STATE,
    CASE_TASKS,
    DEAD_LETTERS,
    EVENT_LOG,
    METRIC_ROLLUP,
    PERIOD_SPANS,
    PROGRESS,
)
from civicloop.schemas.codec import DecodeError, decode
from civicloop.schemas.event import Event
from civicloop.schemas.events import EventValidationError, check_decoded

_log = log.get(__name__)
#: characters of a key kept as a dead letter's case_id (the raw bytes keep everything)
_CASE_ID_SHOWN = 256
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

    def add(self, other: BatchResult) -> BatchResult:
        self.projected += other.projected
        self.skipped += other.skipped
        self.dead.extend(other.dead)
        return self


def _spans(rows: _Rows) -> list[dict[str, Any]]:
    return periods.spans(CASE_LIFECYCLE, rows.cases) + periods.spans(CASE_TASKS, rows.tasks)


@dataclass
class _Rows:
    projected_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    states: dict[str, Known] = field(default_factory=dict)
    # The case version each changed case had before this batch: its task rows are those after.
    versions_before: dict[str, int] = field(default_factory=dict)
    # What this batch folded into each case: its event-log rows, and what is dead-lettered
    # if the case's rows cannot be built.
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
                case = case_row(state)
                tasks = task_rows(state, since_version=since)
            except Exception as exc:  # a bug in row building, not bad input
                folded = self.folded.pop(cid, [])
                result.dead.extend(_internal(msg, exc, event) for msg, event in folded)
                result.projected -= len(folded)
                del self.states[cid]
                continue
            self.cases.append(case)
            self.tasks.extend(tasks)

    def read(self) -> list[tuple[RawMessage, Event]]:
        """Every (message, event) folded into a case whose rows are written: the event log."""
        return [pair for pairs in self.folded.values() for pair in pairs]


@dataclass
class Folded:
    """One batch decoded, folded and turned into rows, checked against the column types and
    not written yet: the tables in write order (event log, case rows, task rows, case state
    with its watermark) and the states to remember once they are written."""

    result: BatchResult
    tables: list[tuple[str, Any]]  # (table, an Arrow table: projections/store/arrow.py)
    states: dict[str, Known]
    projected_at: datetime


class Folder:
    """The first half of a batch: decode, refuse, look states up, fold, build rows, check
    them. No writes: the :class:`Projector` writes what this folds, and so does the writer of
    a :class:`~civicloop.projections.parallel.projector.ParallelProjector` for its fold processes."""

    def __init__(
        self,
        states: StateCache,
        columns: fit.Given,
        ignore_illegal: frozenset[str] = frozenset(),
        check_event: Callable[[Event, int], None] = check_decoded,
        fold: Fold = fold,
    ) -> None:
        self.fold = fold  # the lifecycle fold; tests pass a faulty one to prove containment
        self.states = states
        self.columns = columns
        self.ignore_illegal = ignore_illegal
        self.check_event = check_event

    def fold_batch(
        self,
        batch: Sequence[RawMessage],
        projected_at: datetime | None = None,
        boundaries: Boundaries = UNRECORDED,
    ) -> Folded:
        """``batch`` folded (``projected_at``: the moment its rows carry, default now), each
        message judged by the revision of the contract ``boundaries`` say is in force where it
        sits (``contract.py``)."""
        result = BatchResult()
        decoded = self._decode(batch, result, boundaries)
        known = self.states.load({event.case_id for _, event in decoded})
        rows = _Rows(projected_at=projected_at or datetime.now(UTC))
        for msg, event in decoded:
            try:
                self._fold_one(msg, event, known, rows, result)
            except Exception as exc:
                result.dead.append(_internal(msg, exc, event))
        rows.build(result)
        # Built as checked Arrow tables before anything is published or written: content the
        # store cannot hold is refused whole, so the split that follows leaves no rows of the
        # offending message behind.
        columns = self.columns
        # The months the rows touch first: a reader that sees a row sees its month's span. A
        # deployment made before month partitions has no period_spans and reads every month.
        spans = (
            [(PERIOD_SPANS, columns.rows_table(PERIOD_SPANS, _spans(rows)))]
            if PERIOD_SPANS in columns.types()
            else []
        )
        tables = spans + [
            (EVENT_LOG, columns.columns_table(EVENT_LOG, event_log.columns(rows.read(), rows.projected_at))),
            (CASE_LIFECYCLE, columns.rows_table(CASE_LIFECYCLE, rows.cases)),
            (CASE_TASKS, columns.rows_table(CASE_TASKS, rows.tasks)),
            # The state with its watermark after the other tables: the batch's effects are stored.
            (CASE_STATE, columns.rows_table(CASE_STATE, state_rows(rows.states))),
        ]
        return Folded(result, tables, rows.states, rows.projected_at)

    def _decode(
        self, batch: Sequence[RawMessage], result: BatchResult, boundaries: Boundaries
    ) -> list[tuple[RawMessage, Event]]:
        decoded = []
        for msg in batch:
            try:
                event = decode(msg.value or b"")
            except DecodeError as exc:
                result.dead.append(_dead(msg, exc.reason, str(exc)))
                continue
            except Exception as exc:  # a bug in decoding, not bad input
                result.dead.append(_internal(msg, exc))
                continue
            dead = self._refusal(msg, event, boundaries.revision(msg.topic, msg.partition, msg.offset))
            if dead is None:
                decoded.append((msg, event))
            else:
                result.dead.append(dead)
        return decoded

    def _refusal(self, msg: RawMessage, event: Event, revision: int) -> DeadLetter | None:
        """The dead letter for a decoded event the worker must not fold, or None: one that
        breaks the contract (``revision`` of it: the one in force where it sits in the log),
        or sits under a key other than its case id (then its partition says nothing about where
        its case lives)."""
        try:
            self.check_event(event, revision)
        except EventValidationError as exc:
            return _dead(msg, f"invalid:{exc.field}", str(exc), event)
        except Exception as exc:
            return _internal(msg, exc, event)
        if msg.key != event.case_id.encode():
            detail = f"key {_shown(msg.key)} is not the case id {event.case_id!r}"
            return _dead(msg, "misrouted", detail, event)
        return None

    def _fold_one(
        self, msg: RawMessage, event: Event, known: dict[str, Known], rows: _Rows, result: BatchResult
    ) -> None:
        case_id = event.case_id
        before = known.get(case_id)
        if before is not None and before.partition != msg.partition:
            # Only the case's own partition keeps its events in order (docs/TRUST.md §3).
            where = f"case {case_id!r} lives on partition {before.partition}, not {msg.partition}"
            result.dead.append(_dead(msg, "misrouted", where, event))
            return
        if before is not None and msg.offset <= before.offset:
            result.skipped += 1  # fully projected before a crash or rebalance
            return
        old_state = before.state if before else None
        body = body_digest(msg.value or b"")
        try:
            new_state: CaseState = self.fold(old_state, event, now=_record_time(msg), body=body)
        except IllegalTransition as exc:
            if exc.reason not in self.ignore_illegal:
                result.dead.append(_dead(msg, exc.dead_letter, str(exc), event))
            if old_state is None:
                return  # nothing to keep: the case has no state, and lives on no partition yet
            new_state = old_state
        else:
            if new_state is old_state:
                # A redelivery of an event the case has folded, with the same body: nothing is
                # written, so the event log keeps the row of the first copy (one body per id).
                result.skipped += 1
            else:
                rows.folded.setdefault(case_id, []).append((msg, event))
                result.projected += 1
        after = Known(new_state, msg.partition, msg.offset)
        known[case_id] = rows.states[case_id] = after
        if new_state is not old_state:
            rows.versions_before.setdefault(case_id, old_state.version if old_state else 0)


class Writer:
    """The second half of a batch: its writes, in the order that makes a crash anywhere safe
    (dead letters, the folded tables in their order, the progress marker last)."""

    def __init__(
        self, store: Store, database: str, publish_dead: Callable[[Sequence[DeadLetter]], None]
    ) -> None:
        self.store = store
        self.database = database
        self.publish_dead = publish_dead
        self.columns = fit.Columns(store, database)
        self._rollups: rollup.Refresher | None = None
        self._rollups_known = False  # decided when first asked: the types are read then

    @property
    def rollups(self) -> rollup.Refresher | None:
        """What counts the months the batches touched into ``metric_rollup``: none for a
        database without one, or on a sharded store (``metrics/rollup.py``)."""
        if not self._rollups_known:
            if METRIC_ROLLUP in self.columns.types() and not self.store.sharded:
                self._rollups = rollup.Refresher(self.store, self.database)
            self._rollups_known = True
        return self._rollups

    def write(
        self,
        batch: Sequence[RawMessage],
        dead: Sequence[DeadLetter],
        tables: Sequence[tuple[str, Any]],
        projected_at: datetime,
    ) -> None:
        """Write one batch: ``tables`` hold list-of-dict rows (checked) or Arrow tables."""
        marks = progress.rows(((m.topic, m.partition, m.offset) for m in batch), projected_at)
        dead_rows = [d.row() for d in dead]
        self.columns.check(DEAD_LETTERS, dead_rows)
        self.columns.check(PROGRESS, marks)
        if dead:
            # Published before the batch's offsets can be acknowledged: nothing is lost, and a
            # replayed batch publishes again (at-least-once; the table is keyed by offset).
            self.publish_dead(dead)
        db = self.database
        self.store.insert(f"{db}.{DEAD_LETTERS}", dead_rows)
        for table, data in tables:
            if isinstance(data, list):
                self.store.insert(f"{db}.{table}", data)
            else:
                self.store.insert_arrow(f"{db}.{table}", data)
        # The batch's marker goes last: once it is there, every effect of the batch is stored.
        self.store.insert(f"{db}.{PROGRESS}", marks)
        if self.rollups is not None:
            # A cache, not an effect of the batch: readers count a month the rollup does not
            # hold as it is now from the table (metrics/rollup.py).
            self.rollups.add(
                m for table, data in tables if table == PERIOD_SPANS for m in rollup.touched(_listed(data))
            )


class Projection:
    """What the worker and the replay drive: ``project`` one batch, and the two ways of
    getting a batch written whatever its content (``project_or_split``) and whatever the
    store's health (``project_until_written``)."""

    writer: Writer
    #: where each revision of the contract took effect, recorded before it judges anything
    #: (None: everything judged by the current revision, nothing recorded)
    contract: Contract | None = None

    def boundaries(self, batch: Sequence[RawMessage]) -> Boundaries:
        """The contract's boundaries for ``batch``, recorded first where missing (a failure to
        record fails the batch, before anything of it is judged)."""
        if self.contract is None:
            return UNRECORDED
        return self.contract.boundaries((m.topic, m.partition, m.offset) for m in batch)

    def project(self, batch: Sequence[RawMessage]) -> BatchResult:
        raise NotImplementedError

    def forget(self) -> None:
        """Drop every cached state: the store holds the truth (after a failure or a rebalance)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what this projection holds beyond its store (fold processes)."""

    def project_or_split(self, batch: Sequence[RawMessage]) -> BatchResult:
        """``project``; when the store refuses the batch for its content, the halves in turn
        (in order: a case's later messages fold on what the earlier half stored), down to the
        single messages it refuses, which are dead-lettered as ``store_rejected:<code>``."""
        try:
            return self.project(batch)
        except StoreRejected as exc:
            self.forget()  # the cache may hold states of the refused batch
            if len(batch) == 1:
                return self._reject(batch[0], exc)
            _log.warning("batch_rejected_splitting", size=len(batch), error=str(exc)[:300])
            middle = len(batch) // 2
            return self.project_or_split(batch[:middle]).add(self.project_or_split(batch[middle:]))

    def project_all(
        self,
        batches: Iterable[Sequence[RawMessage]],
        written: Callable[[Sequence[RawMessage], BatchResult], None],
    ) -> None:
        """``project_or_split`` each batch in order, calling ``written`` with each one once it
        is written (the replay commits its offsets there). A parallel projection folds the
        next batch while this one is written (:mod:`civicloop.projections.parallel`)."""
        for batch in batches:
            written(batch, self.project_or_split(batch))

    def project_until_written(
        self, batch: Sequence[RawMessage], should_stop: Callable[[], bool] = lambda: False
    ) -> BatchResult:
        """Retry the whole batch until it is written: the store or broker being down must not
        ack it. Whatever ``project_or_split`` raises is such a failure (per-message errors,
        bugs and content the store refuses included, became dead letters inside it)."""
        delay = 0.5
        while True:
            try:
                return self.project_or_split(batch)
            except Exception as exc:  # any store or broker failure is retried
                if should_stop():
                    raise
                # The cache may hold states of the failed batch: reload them from the store.
                self.forget()
                _log.error("batch_write_failed", error=repr(exc), retry_in_s=delay, size=len(batch))
                time.sleep(delay)
                delay = min(delay * 2, 30.0)

    def _reject(self, msg: RawMessage, exc: StoreRejected) -> BatchResult:
        """Dead-letter the one message the store refuses, and mark its offset as done."""
        _log.error(
            "message_store_rejected",
            topic=msg.topic,
            partition=msg.partition,
            offset=msg.offset,
            error=str(exc),
        )
        event = _event_or_none(msg)
        result = BatchResult(dead=[_dead(msg, f"store_rejected:{exc.code}", str(exc), event)])
        self.writer.write([msg], result.dead, [], datetime.now(UTC))
        return result


class Projector(Folder, Projection):
    """Decodes, folds and writes batches into one database, in this process."""

    def __init__(
        self,
        store: Store,
        database: str,
        publish_dead: Callable[[Sequence[DeadLetter]], None],
        state_capacity: int = 100_000,
        ignore_illegal: frozenset[str] = frozenset(),
        check_event: Callable[[Event, int], None] = check_decoded,
        fold: Fold = fold,
        contract: Contract | None = None,
    ) -> None:
        self.store = store
        self.contract = contract
        self.database = database
        self.writer = Writer(store, database, publish_dead)
        states = StateStore(store, database, state_capacity)
        super().__init__(states, self.writer.columns, ignore_illegal, check_event, fold)
        self.states: StateStore = states

    def project(self, batch: Sequence[RawMessage]) -> BatchResult:
        folded = self.fold_batch(batch, boundaries=self.boundaries(batch))
        self.writer.write(batch, folded.result.dead, folded.tables, folded.projected_at)
        self.states.remember(folded.states)
        return folded.result

    def forget(self) -> None:
        self.states.forget()


def _listed(data: Any) -> list[dict[str, Any]]:
    """Rows as dicts, from a list of them or an Arrow table."""
    return data if isinstance(data, list) else data.to_pylist()


def _record_time(msg: RawMessage) -> datetime | None:
    if msg.timestamp_ms is None or msg.timestamp_ms <= 0:
        return None
    return datetime.fromtimestamp(msg.timestamp_ms / 1000, UTC)


def _event_or_none(msg: RawMessage) -> Event | None:
    try:
        return decode(msg.value or b"")
    except Exception:
        return None


def _shown(key: bytes | None) -> str:
    if key is None:
        return "(none)"
    text = key.decode(errors="replace")
    return repr(text if len(text) <= 80 else text[:77] + "...")


def _internal(msg: RawMessage, exc: Exception, event: Event | None = None) -> DeadLetter:
    """The dead letter for a message on which civicloop's own code raised: the reason names
    the exception type, the detail carries the traceback for whoever fixes the bug."""
    _log.error(
        "message_internal_error", topic=msg.topic, partition=msg.partition, offset=msg.offset, error=repr(exc)
    )
    # Its own traceback only: not the chain of whatever was being handled (a split of the
    # batch), so the detail is the same wherever the message was folded.
    trace = "".join(traceback.format_exception(exc, chain=False))
    return _dead(msg, f"internal:{type(exc).__name__}", trace, event)


def _dead(msg: RawMessage, reason: str, detail: str, event: Event | None = None) -> DeadLetter:
    case_id = event.case_id if event else (msg.key or b"").decode(errors="replace")
    return DeadLetter(
        topic=msg.topic,
        partition=msg.partition,
        offset=msg.offset,
        key=msg.key,
        raw=msg.value or b"",
        reason=reason,
        detail=detail,
        case_id=case_id[:_CASE_ID_SHOWN],
        event_id=event.event_id[:_CASE_ID_SHOWN] if event else "",
        event_type=event.type if event else "",
    )
