"""Rebuilding every projection from the event log into fresh tables, then switching readers.

The same :class:`Projector` as the live worker (same fold, same rows), driven by a plain
confluent-kafka consumer in large batches. It writes into a new database, so readers keep
seeing the complete old tables; when it has caught up it swaps every table in one ``RENAME``
statement (``projections/rebuild.py``), and a last catch-up pass covers what arrived during the
swap (idempotent rows make the overlap with the live worker harmless). Progress is committed to
a consumer group of its own after each written batch, so an interrupted replay resumes where it
stopped — into the tables it was writing. Tables the store made new (after the switch, an
interrupted catch-up leaves none behind) hold nothing those offsets point past: such a run
reads the log from its start again. The signals topic is replayed the same way into the
signals table (the same pipeline, docs/SIGNALS.md); the signal detectors' markers start empty
in the rebuilt database, so the worker's next sweeps evaluate the rebuilt history again and
raise the same signals (same ids).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from civicloop import log
from civicloop.config import Config
from civicloop.projections.parallel import projection
from civicloop.projections.projector import Projection, RawMessage
from civicloop.projections.read_model.progress import projected_offsets
from civicloop.projections.signals.projector import SignalProjection
from civicloop.projections.store.base import Store
from civicloop.schemas.event import Event
from civicloop.schemas.events import check_decoded
from civicloop.streams import settings
from civicloop.streams.contract import contract

_log = log.get(__name__)


@dataclass
class ReplayStatus:
    target: str
    phase: str = "starting"  # starting | rebuilding | switching | catching-up | done | failed
    done: int = 0
    total: int = 0
    started_at: float = field(default_factory=time.time)
    error: str = ""

    @property
    def rate(self) -> float:
        elapsed = time.time() - self.started_at
        return self.done / elapsed if elapsed > 0 else 0.0


def _no_publish(_: object) -> None:
    """Dead letters were published by the live worker already; the rebuild only records them."""


class Replayer:
    """One rebuild of ``config``'s projections into ``target`` (a database name)."""

    #: the contract check of every decoded event (docs/TRUST.md §1); a module-level function,
    #: since fold processes receive it by name
    check_event: Callable[[Event, int], None] = staticmethod(check_decoded)

    def __init__(
        self,
        config: Config,
        store: Store,
        bootstrap: str,
        target: str,
        since: datetime | None = None,
        keep_old: bool = False,
        on_progress: Callable[[ReplayStatus], None] = lambda status: None,
    ) -> None:
        self.config, self.store, self.bootstrap = config, store, bootstrap
        self.since, self.keep_old, self.on_progress = since, keep_old, on_progress
        self.status = ReplayStatus(target)
        self._positions: dict[int, dict[int, int]] = {}
        # Each event judged by the revision of the contract in force where it sits in the log,
        # as the live worker judged it (the boundaries on Kafka, placed by the live database's
        # progress: projections/contract.py), never by this code's newest rule alone.
        self.contract = contract(config, store, bootstrap)

    def run(self) -> ReplayStatus:
        try:
            self.store.prepare_rebuild(self.status.target)
            resume = self._holds_progress(self.status.target)
            consumer = self._consumer(self.config.events_topic, resume=resume)
            signals = self._consumer(self.config.signals_topic, whole=True, resume=resume)
            try:
                self._phase("rebuilding")
                # Content the store refuses is split out and dead-lettered as in the live worker; a failure
                # of the store itself fails the replay, which resumes from its last commit.
                self._project(consumer, self.status.target)
                self._drain(signals, self._signals(self.status.target).project_or_split, counted=False)
                self._phase("switching")
                self.store.switch_rebuild(self.config.database, self.status.target, self.keep_old)
                self._phase("catching-up")
                self._project(consumer, self.config.database)
                self._drain(signals, self._signals(self.config.database).project_or_split, counted=False)
            finally:
                consumer.close()
                signals.close()
            self._forget_progress()
            self._phase("done")
        except Exception as exc:
            self.status.error = repr(exc)
            self._phase("failed")
            raise
        return self.status

    @property
    def group(self) -> str:
        return f"{self.config.namespace}-replay-{self.status.target}"

    def _forget_progress(self) -> None:
        """A finished rebuild's offsets must not make the next one start at the end."""
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        for future in admin.delete_consumer_groups([self.group], request_timeout=30).values():
            future.result()

    def _project(self, consumer: Consumer, database: str) -> None:
        projection = self._projector(database)
        try:
            projection.project_all(self._batches(consumer), self._written(consumer))
            if projection.writer.rollups is not None:  # the last months counted before the switch
                projection.writer.rollups.now()
        finally:
            projection.close()

    def _projector(self, database: str) -> Projection:
        """The case events' projection into ``database``, folding in ``config.folders``
        processes (docs/DESIGN.md §8)."""
        # A window replay starts mid-history: events of cases reported before it are not errors.
        ignore = frozenset({"case_not_reported"}) if self.since is not None else frozenset()
        return projection(
            self.store,
            database,
            _no_publish,
            self.config.folders,
            ignore_illegal=ignore,
            check_event=self.check_event,
            contract=self.contract,
        )

    def _signals(self, database: str) -> SignalProjection:
        return SignalProjection(self.store, database, _no_publish)

    def _phase(self, phase: str) -> None:
        self.status.phase = phase
        _log.info("replay_phase", phase=phase, target=self.status.target, done=self.status.done)
        self.on_progress(self.status)

    def _holds_progress(self, database: str) -> bool:
        """``database`` holds a written batch of case events (its progress marker is the
        batch's last row)."""
        return bool(projected_offsets(self.store.query, database, self.config.events_topic))

    def _consumer(self, topic: str, whole: bool = False, resume: bool = True) -> Consumer:
        """A consumer of ``topic`` assigned where this rebuild starts (``whole``: the whole
        topic even for a ``--from`` replay: signals are few and all of them are rebuilt;
        ``resume``: from the group's committed offsets, when there are any)."""
        consumer = Consumer(
            {"bootstrap.servers": self.bootstrap, "group.id": self.group, **settings.REPLAY_CONSUMER}
        )
        metadata = consumer.list_topics(topic, timeout=30).topics[topic]
        partitions = [TopicPartition(topic, p) for p in sorted(metadata.partitions)]
        starts = self._starting_offsets(consumer, partitions, whole, resume)
        consumer.assign(starts)
        # Where each partition's reading begins, as an offset (the consumer's own position
        # stays unknown for a partition it has nothing to fetch from).
        self._positions[id(consumer)] = {tp.partition: tp.offset for tp in starts}
        return consumer

    def _starting_offsets(
        self, consumer: Consumer, partitions: list[TopicPartition], whole: bool = False, resume: bool = True
    ) -> list[TopicPartition]:
        committed = consumer.committed(partitions, timeout=30)
        if any(tp.offset >= 0 for tp in committed):
            if resume:
                return [TopicPartition(tp.topic, tp.partition, max(tp.offset, 0)) for tp in committed]
            _log.warning(
                "replay_starts_over",
                target=self.status.target,
                why="its tables are new: the committed offsets belong to a run that switched already",
            )
        if self.since is None or whole:
            return [TopicPartition(tp.topic, tp.partition, OFFSET_BEGINNING) for tp in partitions]
        stamp = int(self.since.timestamp() * 1000)
        wanted = [TopicPartition(tp.topic, tp.partition, stamp) for tp in partitions]
        return [
            TopicPartition(tp.topic, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_BEGINNING)
            for tp in consumer.offsets_for_times(wanted, timeout=30)
        ]

    def _drain(
        self, consumer: Consumer, project: Callable[[list[RawMessage]], object], counted: bool = True
    ) -> None:
        """Consume up to the end offsets as of now, writing and committing batch by batch
        (``counted``: case events, what the status reports; signals are not counted)."""
        written = self._written(consumer, counted)
        for batch in self._batches(consumer, counted):
            written(batch, project(batch))

    def _batches(self, consumer: Consumer, counted: bool = True) -> Iterator[list[RawMessage]]:
        """The batches up to the end offsets as of now (``counted``: their total is the
        status's)."""
        lows, ends = self._watermarks(consumer)
        position = self._positions[id(consumer)]
        for p, offset in position.items():
            if offset < 0:  # OFFSET_BEGINNING
                position[p] = lows[p]
        if counted:
            self.status.total = self.status.done + sum(max(0, end - position[p]) for p, end in ends.items())
        while any(position[p] < end for p, end in ends.items()):
            # Never ask for more than is left: the last partial batch would wait out the timeout.
            left = sum(max(0, end - position[p]) for p, end in ends.items())
            batch = [
                m
                for m in consumer.consume(min(self.config.replay_batch, left), timeout=1.0)
                if m.error() is None
            ]
            if not batch:
                # Offsets may have gaps (transaction markers): trust the consumer where it knows.
                for tp in consumer.position(consumer.assignment()):
                    position[tp.partition] = max(position[tp.partition], tp.offset)
                continue
            for msg in batch:
                partition, offset = msg.partition() or 0, msg.offset() or 0
                position[partition] = max(position[partition], offset + 1)
            yield _raw(batch)

    def _written(
        self, consumer: Consumer, counted: bool = True
    ) -> Callable[[Sequence[RawMessage], object], None]:
        """What follows a batch's write: its offsets committed (only now: an interrupted
        rebuild resumes after the last batch written), and the status."""

        def written(batch: Sequence[RawMessage], _: object) -> None:
            # The batch's own offsets, not the consumer's position: the next batch may have
            # been consumed (and folded) already.
            consumer.commit(offsets=_after(batch), asynchronous=False)
            self.status.done += len(batch) if counted else 0
            self.on_progress(self.status)

        return written

    def _watermarks(self, consumer: Consumer) -> tuple[dict[int, int], dict[int, int]]:
        """Low and high offsets of every partition, in two requests (not two per partition)."""
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        partitions = consumer.assignment()

        def offsets(spec: OffsetSpec) -> dict[int, int]:
            futures = admin.list_offsets({tp: spec for tp in partitions}, request_timeout=30)
            return {tp.partition: future.result().offset for tp, future in futures.items()}

        return offsets(OffsetSpec.earliest()), offsets(OffsetSpec.latest())


def _after(batch: Sequence[RawMessage]) -> list[TopicPartition]:
    """Where reading resumes after ``batch``: each of its partitions' last offset + 1."""
    last: dict[tuple[str, int], int] = {}
    for msg in batch:
        where = (msg.topic, msg.partition)
        last[where] = max(last.get(where, -1), msg.offset)
    return [TopicPartition(topic, partition, offset + 1) for (topic, partition), offset in last.items()]


def _raw(batch: list[Message]) -> list[RawMessage]:
    return [
        RawMessage(m.topic() or "", m.partition() or 0, m.offset() or 0, m.key(), m.value(), m.timestamp()[1])
        for m in batch
    ]
