"""Folding in several processes, writing from one (projections/parallel/), against one process.

On chDB and on the server: the same batches give the same rows in every table (row checksums);
a batch redelivered after a crash — a write failing half-way, or the whole pool gone — ends in
the same rows, nothing lost or counted twice; the per-message rules (contract, misrouting,
illegal, a fold that raises, content the store refuses) hold as in one process.

Starting a pool of two spawned fold processes was most of this module's time, so a projection
borrows a running pool of the module's (``Pools``: one per recipe — the backend's column types and
the fold's options) and gives it back at its close with every cache forgotten: the next one folds
onto empty caches, as a fresh pool's would. Where a fresh pool is the property (a restarted
pool, a killed fold process) the projection starts its own."""

from __future__ import annotations

import os
import signal
import threading
import time
import zlib
from collections.abc import Iterator
from typing import Any

import pytest

from civicloop.projections.fold.casestate import CaseState
from civicloop.projections.fold.lifecycle import fold
from civicloop.projections.parallel import FoldProcessFailed, ParallelProjector
from civicloop.projections.parallel.pool import Pool
from civicloop.projections.projector import BatchResult, Projection, Projector, RawMessage
from civicloop.projections.store.base import Store, StoreRejected
from civicloop.schemas.codec import encode
from civicloop.schemas.event import Event
from civicloop.tools.bench import simulated
from tests.support import case_events as ev
from tests.support.case_events import at
from tests.support.checksums import checksums

pytestmark = pytest.mark.integration
TOPIC = "ns.case-events"
NOW_MS = int(time.time() * 1000)
PARTITIONS = 3
POISON_CASE = "C-poison"


def city(count: int, seed: int = 5) -> list[RawMessage]:
    """A simulated city's events as a topic of PARTITIONS partitions would hold them."""
    offsets = [0] * PARTITIONS
    read = []
    for key, value in simulated.encoded(count, seed).messages:
        partition = zlib.crc32(key) % PARTITIONS
        read.append(RawMessage(TOPIC, partition, offsets[partition], key, value, NOW_MS))
        offsets[partition] += 1
    return read


def batches(read: list[RawMessage], size: int) -> Iterator[list[RawMessage]]:
    for start in range(0, len(read), size):
        yield read[start : start + size]


def msg(event: Event, offset: int, partition: int = 0, key: bytes | None = None) -> RawMessage:
    key = event.case_id.encode() if key is None else key
    return RawMessage(TOPIC, partition, offset, key, encode(event), NOW_MS)


def unchecked(event: Event, revision: int) -> None:
    """No contract check: the store's own limits decide (fold processes get this by name)."""


def faulty_fold(state: CaseState | None, event: Event, **kw: Any) -> CaseState:
    """The real fold, with a bug for one case (fold processes get this by name)."""
    if event.case_id == POISON_CASE and event.type == "CaseEscalated":
        raise ZeroDivisionError("a bug in the fold")
    return fold(state, event, **kw)


class Pools:
    """The module's running pools of fold processes, one per recipe (what a fold process is
    started with: column types, options), lent to one projection after another."""

    def __init__(self) -> None:
        self.running: dict[str, Pool] = {}

    def lend(self, own: Pool) -> Pool:
        """The running pool of ``own``'s recipe (``own`` itself the first time), its caches
        to be forgotten before it folds anything."""
        pool = self.running.setdefault(repr(own.recipe()), own)
        pool.forget()
        return pool

    def stop(self) -> None:
        for pool in self.running.values():
            pool.stop()


@pytest.fixture(scope="module")
def pools() -> Iterator[Pools]:
    running = Pools()
    yield running
    running.stop()


class Borrowing(ParallelProjector):
    """A parallel projection on a borrowed pool: its close gives the pool back with every cache
    forgotten (the processes keep running) instead of stopping it. A failure inside a fold
    still stops the pool (it is started again for the next batch), as for any projection."""

    def __init__(self, pools: Pools, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.pool = pools.lend(self.pool)

    def close(self) -> None:
        self.pool.forget()


def parallel(store: Store, database: str, pools: Pools | None = None, **kw: Any) -> ParallelProjector:
    """A projection folding in two processes: on a pool of ``pools``, or on a fresh one of its own."""
    store.lay_out(database)
    if pools is None:
        return ParallelProjector(store, database, lambda letters: None, 2, **kw)
    return Borrowing(pools, store, database, lambda letters: None, 2, **kw)


def serial(store: Store, database: str, **kw: Any) -> Projector:
    store.lay_out(database)
    return Projector(store, database, lambda letters: None, **kw)


def run(projection: Projection, read: list[RawMessage], size: int) -> BatchResult:
    total = BatchResult()
    try:
        for batch in batches(read, size):
            total.add(projection.project_until_written(batch))
    finally:
        projection.close()
    return total


def test_two_processes_write_the_rows_one_process_writes(store: Store, database: str, pools: Pools) -> None:
    read = city(6_000)
    one = run(serial(store, f"{database}_one"), read, 1_000)
    two = run(parallel(store, f"{database}_two", pools), read, 1_000)

    assert (two.projected, two.skipped, two.dead) == (one.projected, one.skipped, one.dead) == (6_000, 0, [])
    assert checksums(store, f"{database}_two") == checksums(store, f"{database}_one")


class FailingStore:
    """``store``, whose ``fail_at``-th insert (counted from 1) raises once: a crash half-way
    through a batch's ordered writes, as the worker sees a store that went away."""

    def __init__(self, store: Store, fail_at: int) -> None:
        self._store, self._fail_at, self.inserts = store, fail_at, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def insert(self, table: str, rows: Any) -> int:
        self._count(table)
        return self._store.insert(table, rows)

    def insert_arrow(self, table: str, data: Any) -> int:
        self._count(table)
        return self._store.insert_arrow(table, data)

    def _count(self, table: str) -> None:
        self.inserts += 1
        if self.inserts == self._fail_at:
            raise ConnectionError(f"the store went away while writing {table}")


@pytest.mark.parametrize("fail_at", [2, 4, 5, 6], ids=["event_log", "case_tasks", "case_state", "marker"])
def test_a_batch_that_failed_half_written_is_written_once_on_the_retry(
    store: Store, database: str, fail_at: int, pools: Pools
) -> None:
    read = city(3_000)
    run(serial(store, f"{database}_ref"), read, 1_000)
    # when the second batch's writes fail at one table (the first batch took six inserts)
    flaky = FailingStore(store, fail_at=6 + fail_at)
    run(parallel(flaky, f"{database}_par", pools), read, 1_000)  # type: ignore[arg-type]

    assert flaky.inserts > 6 + fail_at, "the failure happened and the batch was retried"
    assert checksums(store, f"{database}_par") == checksums(store, f"{database}_ref")


def test_redelivered_batches_after_a_restart_change_nothing(
    store: Store, database: str, pools: Pools
) -> None:
    read = city(4_000)
    run(serial(store, f"{database}_ref"), read, 1_000)
    first = run(parallel(store, f"{database}_par", pools), read[:3_000], 1_000)
    # when a restarted pool (a fresh one: cold caches) gets the last 2,000 again, then what follows
    again = run(parallel(store, f"{database}_par"), read[1_000:], 1_000)

    assert first.projected + again.projected == 4_000
    assert again.skipped == 2_000, "every redelivered message was at or below its case's watermark"
    assert checksums(store, f"{database}_par") == checksums(store, f"{database}_ref")


def test_a_killed_fold_process_fails_the_batch_which_the_retry_writes(store: Store, database: str) -> None:
    read = city(3_000)
    run(serial(store, f"{database}_ref"), read, 1_000)
    projection = parallel(store, f"{database}_par")
    try:
        projection.project_until_written(read[:1_000])
        # when one fold process is killed between two batches
        os.kill(projection.pids[1], signal.SIGKILL)
        with pytest.raises((FoldProcessFailed, OSError)):
            projection.project(read[1_000:2_000])
        for batch in batches(read[1_000:], 1_000):
            projection.project_until_written(batch)
    finally:
        projection.close()
    assert checksums(store, f"{database}_par") == checksums(store, f"{database}_ref")


def hostile() -> tuple[list[RawMessage], dict[int, str]]:
    """Good cases with a message of each kind of trouble, and the reason each gets."""
    absurd = ev.event(
        "CaseEscalated", at(2), "A", level=300, reason="supervisor", task_id=None, deadline=None
    )
    read = [
        msg(ev.reported(at(0), "A"), 0),
        msg(ev.registered(at(1), "A"), 1),
        msg(ev.reported(at(0), POISON_CASE), 2),
        msg(absurd, 3),  # the UInt8 column cannot hold it
        msg(ev.escalated(at(2), case_id=POISON_CASE), 4),  # the fold raises
        msg(ev.reported(at(0), "A"), 0, partition=1),  # a copy on another partition
        msg(ev.reported(at(0), "B"), 1, partition=1, key=b"someone-else"),  # under a foreign key
        msg(ev.accepted(at(3), "T9", case_id="A"), 5),  # a task never dispatched
        RawMessage(TOPIC, 0, 6, b"junk", b"not an event", NOW_MS),
        msg(ev.dispatched(at(4), "T1", case_id="A"), 7),
    ]
    reasons = {
        3: "store_rejected:out_of_range",
        4: "internal:ZeroDivisionError",
        5: "illegal:task_not_dispatched",
        6: "bad_marker",
    }
    return read, reasons


def test_every_kind_of_trouble_is_dead_lettered_as_in_one_process(
    store: Store, database: str, pools: Pools
) -> None:
    read, reasons = hostile()
    options: dict[str, Any] = {"check_event": unchecked, "fold": faulty_fold}
    one = serial(store, f"{database}_one", **options).project_until_written(read)
    projection = parallel(store, f"{database}_two", pools, **options)
    try:
        two = projection.project_until_written(read)
    finally:
        projection.close()

    by_place = {(d.partition, d.offset): d.reason for d in two.dead}
    assert by_place == {(d.partition, d.offset): d.reason for d in one.dead}
    assert by_place == {
        **{(0, offset): reason for offset, reason in reasons.items()},
        (1, 0): "misrouted",
        (1, 1): "misrouted",
    }
    assert checksums(store, f"{database}_two") == checksums(store, f"{database}_one")
    states = store.query(f"SELECT case_id, state FROM {database}_two.case_lifecycle FINAL ORDER BY case_id")
    assert states == [("A", "DISPATCHED"), (POISON_CASE, "REPORTED")]


# Folding the next batch while this one is written (project_all, the replay's way).


class Written:
    """What ``project_all`` reports: each batch written, in order, with its result."""

    def __init__(self) -> None:
        self.batches: list[list[RawMessage]] = []
        self.total = BatchResult()

    def __call__(self, batch: Any, result: BatchResult) -> None:
        self.batches.append(list(batch))
        self.total.add(result)

    @property
    def count(self) -> int:
        return sum(len(batch) for batch in self.batches)


class GatedStore(FailingStore):
    """``store``, whose write of each batch (at its event log) waits until the fold of the
    next batch has looked up one of the cases that batch reports first: only a projection
    that folds the next batch during this batch's write lets it through before the timeout."""

    def __init__(self, store: Store, sent: list[list[RawMessage]]) -> None:
        super().__init__(store, fail_at=0)
        self.first_in = {}
        for number, batch in enumerate(sent):
            for message in batch:
                self.first_in.setdefault((message.key or b"").decode(), number)
        self.asked = [threading.Event() for _ in sent]
        self.writes = 0
        self.overlapped: list[bool] = []

    def query(self, sql: str, params: Any = None) -> Any:
        self._note(params)
        return self._store.query(sql, params)

    def query_caught_up(self, database: str, table: str, select: str, params: Any = None) -> Any:
        """The fold's look-up of case states (projections/state_store.py) comes this way."""
        self._note(params)
        return self._store.query_caught_up(database, table, select, params)

    def _note(self, params: Any) -> None:
        for case_id in (params or {}).get("ids", []):
            if case_id in self.first_in:
                self.asked[self.first_in[case_id]].set()

    def insert_arrow(self, table: str, data: Any) -> int:
        if table.endswith(".event_log"):
            number, self.writes = self.writes, self.writes + 1
            if number + 1 < len(self.asked):
                self.overlapped.append(self.asked[number + 1].wait(20))
        return super().insert_arrow(table, data)


def test_each_batch_is_folded_while_the_one_before_is_written_and_the_rows_are_one_process_s(
    store: Store, database: str, pools: Pools
) -> None:
    read = city(6_000)
    run(serial(store, f"{database}_one"), read, 1_000)
    sent = list(batches(read, 1_000))
    gated = GatedStore(store, sent)
    written = Written()
    projection = parallel(gated, f"{database}_two", pools)  # type: ignore[arg-type]
    try:
        projection.project_all(sent, written)
    finally:
        projection.close()

    assert gated.overlapped == [True] * 5, "each next batch was looked up while this one was written"
    assert written.batches == sent, "every batch reported once, in order, after its write"
    assert (written.total.projected, written.total.skipped, written.total.dead) == (6_000, 0, [])
    assert checksums(store, f"{database}_two") == checksums(store, f"{database}_one")


@pytest.mark.parametrize("fail_at", [2, 5, 6], ids=["event_log", "case_state", "marker"])
def test_a_write_failing_beside_the_next_fold_resumes_after_the_last_batch_reported(
    store: Store, database: str, fail_at: int, pools: Pools
) -> None:
    read = city(4_000)
    run(serial(store, f"{database}_ref"), read, 1_000)
    # when the second batch's write fails half-way while the third is folded
    flaky = FailingStore(store, fail_at=6 + fail_at)
    written = Written()
    projection = parallel(flaky, f"{database}_par", pools)  # type: ignore[arg-type]
    try:
        with pytest.raises(ConnectionError):
            projection.project_all(batches(read, 1_000), written)
    finally:
        projection.close()
    # then only the first batch was reported written, and a rebuild resumed after it (cold
    # caches, the half-written batch delivered again) writes what one process writes
    assert written.count == 1_000
    again = Written()
    resumed = parallel(store, f"{database}_par", pools)
    try:
        resumed.project_all(batches(read[written.count :], 1_000), again)
    finally:
        resumed.close()
    assert again.count == 3_000
    assert checksums(store, f"{database}_par") == checksums(store, f"{database}_ref")


class RefusingStore(FailingStore):
    """``store``, whose ``fail_at``-th insert is refused once for its content."""

    def _count(self, table: str) -> None:
        self.inserts += 1
        if self.inserts == self._fail_at:
            raise StoreRejected("too_large", f"a value in {table} (refused once by the test)")


def test_a_batch_the_store_refuses_while_the_next_is_folded_is_split_and_the_next_folded_again(
    store: Store, database: str, pools: Pools
) -> None:
    read = city(4_000)
    run(serial(store, f"{database}_ref"), read, 1_000)
    # when the store refuses the second batch's case rows while the third is folded
    refusing = RefusingStore(store, fail_at=6 + 3)
    written = Written()
    projection = parallel(refusing, f"{database}_par", pools)  # type: ignore[arg-type]
    try:
        projection.project_all(batches(read, 1_000), written)
    finally:
        projection.close()
    # then the second batch is written in halves, the third folded again on what they stored
    assert refusing.inserts > 4 * 6, "the refused batch was written again"
    assert written.count == 4_000 and written.total.projected == 4_000 and written.total.dead == []
    assert checksums(store, f"{database}_par") == checksums(store, f"{database}_ref")


def test_content_refused_in_a_fold_beside_a_write_is_dead_lettered_as_in_one_process(
    store: Store, database: str, pools: Pools
) -> None:
    read, reasons = hostile()
    options: dict[str, Any] = {"check_event": unchecked, "fold": faulty_fold}
    one = serial(store, f"{database}_one", **options).project_until_written(read)
    written = Written()
    projection = parallel(store, f"{database}_two", pools, **options)
    try:
        # the absurd escalation (offset 3) opens the second batch, folded beside the first's write
        projection.project_all(batches(read, 3), written)
    finally:
        projection.close()

    by_place = {(d.partition, d.offset): d.reason for d in written.total.dead}
    assert by_place == {(d.partition, d.offset): d.reason for d in one.dead}
    assert by_place[(0, 3)] == reasons[3]
    assert written.count == len(read)
    assert checksums(store, f"{database}_two") == checksums(store, f"{database}_one")
