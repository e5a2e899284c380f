"""Folding a batch in several processes and writing it from one: the replay's (and, where it
pays, the worker's) way past one core of Python (docs/DESIGN.md §8).

The projection is per case, and ``fold`` is pure: cases can be folded apart. So a batch is
split by Kafka key over N fold processes — a case's events are keyed by its id, so all of
them reach the same process, whatever partition they come from, and each process holds the
states of its own cases (a bounded cache, as in one process). Each process decodes, checks,
folds and builds its cases' rows exactly as :class:`~civicloop.projections.projector.Folder`
does in one process (it *is* that code), checks them against the column types, and hands
them back as Arrow tables. This process — the only one that may open a chDB directory —
then writes the whole batch with the same :class:`~civicloop.projections.projector.Writer`:
dead letters, event log, case rows, task rows, case states with their watermarks, and the
batch's progress marker last.

What each guarantee becomes (docs/DESIGN.md §6, docs/TRUST.md):

* **Order and idempotence** are those of one process: one batch in, one ordered write out,
  acknowledged by the caller only after it returned. A fold process remembers the states it
  folded only when the writer says the batch was written (``commit``); a failed write tells
  them to ``discard``, and every failure path ends in ``forget`` (all caches dropped), so no
  process ever folds onto a state the store does not hold.
* **Folding beside the write** (``project_all``, the replay's loop): batch N+1 is folded
  while N is written in a thread. A process folds N+1 onto N's states, which it holds as a
  pending layer (``PendingStates``: at most two layers, committed oldest first, discarded
  together), so its look-ups are only for cases N did not touch. Writes stay one at a time
  and in order, and the caller hears of N (and commits its offsets) only after N's write.
* **Misrouted events** stay exact: the split is by key, so a message under a foreign key goes
  to the key's process, which refuses it before touching any state; and a copy of a case's
  event on another partition reaches the same process as the case, which knows where the
  case lives.
* **Per-message containment** (``invalid:``, ``misrouted``, ``illegal:``, ``internal:``)
  happens inside the fold processes, in the same code. Content the store would refuse is
  found by the fold processes' column checks before anything is written and raised here as
  :class:`StoreRejected`, so ``project_or_split`` halves the batch as in one process.
* **State look-ups** go through this process (a fold process cannot open chDB): a process
  asks for the cases its cache misses, chunked as always; the writer answers every process
  while they fold, so no process waits on another.
* A fold process that dies fails the batch like a store failure (retried by the worker,
  resumed by the replay); the pool is started again for the next try.
"""

from __future__ import annotations

import multiprocessing
import threading
import traceback
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection, wait
from typing import Any

from civicloop import log
from civicloop.projections.fold.lifecycle import fold as lifecycle_fold
from civicloop.projections.projector import (
    BatchResult,
    Fold,
    Folder,
    Projection,
    Projector,
    RawMessage,
    Writer,
)
from civicloop.projections.state_store import Known, StateCache, StateStore, known_from_rows
from civicloop.projections.store import arrow
from civicloop.projections.store.base import Row, Store, StoreRejected
from civicloop.projections.tables import fit
from civicloop.projections.tables.dead_letters import DeadLetter
from civicloop.schemas.event import Event
from civicloop.schemas.events import check_decoded

_log = log.get(__name__)

#: what crosses the pipe for one message: (partition, offset, key, value, timestamp ms)
Wire = tuple[int, int, bytes | None, bytes | None, int | None]


class FoldProcessFailed(RuntimeError):
    """A fold process died or raised outside per-message containment: the batch is retried."""


@dataclass(frozen=True)
class Recipe:
    """Everything a fold process needs, sent once when it starts (picklable: functions by name)."""

    types: dict[str, dict[str, str]]  # table → column → ClickHouse type
    capacity: int
    ignore_illegal: frozenset[str]
    check_event: Callable[[Event], None]
    fold: Fold


class ParallelProjector(Projection):
    """A :class:`Projection` whose folding runs in ``processes`` child processes."""

    def __init__(
        self,
        store: Store,
        database: str,
        publish_dead: Callable[[Sequence[DeadLetter]], None],
        processes: int,
        state_capacity: int = 100_000,
        ignore_illegal: frozenset[str] = frozenset(),
        check_event: Callable[[Event], None] = check_decoded,
        fold: Fold = lifecycle_fold,
    ) -> None:
        if processes < 1:
            raise ValueError(f"a parallel projection needs at least one fold process, not {processes}")
        self.store = store
        self.database = database
        self.processes = processes
        self.writer = Writer(store, database, publish_dead)
        self.lookups = StateStore(store, database, capacity=0)
        self.state_capacity = state_capacity
        self.ignore_illegal = ignore_illegal
        self.check_event = check_event
        self.fold = fold
        self._pool: list[_Child] = []
        self._forget = False

    def project(self, batch: Sequence[RawMessage]) -> BatchResult:
        folded = self._folded(batch)
        try:
            self._write(folded)
        except BaseException:
            self._tell(folded.busy, "discard")
            raise
        self._tell(folded.busy, "commit")  # only now may the processes fold onto these states
        return folded.result

    def project_all(
        self,
        batches: Iterable[Sequence[RawMessage]],
        written: Callable[[Sequence[RawMessage], BatchResult], None],
    ) -> None:
        """Each batch folded while the one before it is written (docs/DESIGN.md §8).

        Nothing else changes: batches are written one at a time, in order, and ``written``
        hears of each only after its write returned and its states were committed. A fold
        process folds batch N+1 onto the states of batch N it holds pending (a case's events
        all reach the same process), so it only looks up cases N did not touch — which N's
        write does not change. If N's write fails, both batches' states are discarded: N+1
        was folded onto states that were never stored."""
        ahead: _FoldedBatch | None = None  # folded, not yet written
        for batch in batches:
            if ahead is None:
                ahead = self._folded_or_written(batch, written)
                continue
            writing = _Writing(self._write, ahead)
            writing.start()
            try:
                folded = self._folded(batch)
            except StoreRejected:
                folded = None  # its content is refused: written alone, below, once N is
            finally:
                writing.join()
            if writing.error is not None:
                self._tell(self._pool, "discard")  # N's states, and N+1's folded onto them
                if not isinstance(writing.error, StoreRejected):
                    raise writing.error
                written(ahead.batch, self.project_or_split(ahead.batch))
                ahead = self._folded_or_written(batch, written)
                continue
            self._tell(ahead.busy, "commit")
            written(ahead.batch, ahead.result)
            if folded is None:
                self._written(batch, written)
            ahead = folded
        if ahead is not None:
            self._written(ahead.batch, written, ahead)

    def _folded_or_written(
        self, batch: Sequence[RawMessage], written: Callable[[Sequence[RawMessage], BatchResult], None]
    ) -> _FoldedBatch | None:
        """``batch`` folded, or (when the store would refuse its content) written piecewise."""
        try:
            return self._folded(batch)
        except StoreRejected:
            self._written(batch, written)
            return None

    def _written(
        self,
        batch: Sequence[RawMessage],
        written: Callable[[Sequence[RawMessage], BatchResult], None],
        folded: _FoldedBatch | None = None,
    ) -> None:
        """``batch`` written on its own (``folded``: already folded, nothing after it pending)."""
        if folded is None:
            result = self.project_or_split(batch)
        else:
            try:
                self._write(folded)
            except StoreRejected:
                self._tell(self._pool, "discard")
                result = self.project_or_split(batch)
            except BaseException:
                self._tell(self._pool, "discard")
                raise
            else:
                self._tell(folded.busy, "commit")
                result = folded.result
        written(batch, result)

    def _folded(self, batch: Sequence[RawMessage]) -> _FoldedBatch:
        """``batch`` folded by the processes, not written; :class:`StoreRejected` (their
        states discarded) when a process found content the store would refuse."""
        projected_at = datetime.now(UTC)
        busy, answers = self._fold(batch, projected_at)
        rejected = [a for a in answers if a[0] == "rejected"]
        if rejected:
            self._tell(busy, "discard")
            raise StoreRejected(rejected[0][1], rejected[0][2])
        result, tables = _merged(answers)
        return _FoldedBatch(batch, busy, result, tables, projected_at)

    def _write(self, folded: _FoldedBatch) -> None:
        self.writer.write(folded.batch, folded.result.dead, folded.tables, folded.projected_at)

    def _fold(self, batch: Sequence[RawMessage], projected_at: datetime) -> tuple[list[_Child], list[Any]]:
        """Each process's share of ``batch`` folded: (the processes that had a share, their
        answers in the same order)."""
        pool = self._started()
        shares: list[list[RawMessage]] = [[] for _ in pool]
        for msg in batch:
            shares[owner(msg.key, len(pool))].append(msg)
        busy = [child for child, share in zip(pool, shares, strict=True) if share]
        try:
            if self._forget:
                for child in pool:
                    child.send(("forget",))
                self._forget = False
            for child, share in zip(pool, shares, strict=True):
                if share:
                    child.send_fold(share, projected_at)
            return busy, self._collect(busy)
        except BaseException:
            self._stop()  # a pool in an unknown state is not reused: the next try starts afresh
            raise

    def forget(self) -> None:
        # Only flagged here: the worker calls this from its event loop (a rebalance) while the
        # projector thread may be talking to the fold processes. The next batch applies it
        # before it folds anything, which is all a forgotten cache must guarantee.
        self._forget = True

    def close(self) -> None:
        self._stop()

    @property
    def pids(self) -> list[int]:
        """The fold processes' ids (none before the first batch, or after a failure)."""
        return [child.process.pid for child in self._pool]

    def _started(self) -> list[_Child]:
        if not self._pool:
            recipe = Recipe(
                self.writer.columns.types(),
                max(1, self.state_capacity // self.processes),
                self.ignore_illegal,
                self.check_event,
                self.fold,
            )
            self._pool = [_Child.start(recipe, n) for n in range(self.processes)]
        return self._pool

    def _collect(self, busy: list[_Child]) -> list[tuple[Any, ...]]:
        """Each busy process's answer, serving their state look-ups as they come."""
        answers: dict[int, tuple[Any, ...]] = {}
        waiting = {child.conn: child for child in busy}
        while waiting:
            for conn in wait(list(waiting)):
                child = waiting[conn]  # type: ignore[index]
                reply = child.receive()
                if reply[0] == "need":
                    child.send(("states", self._stored(reply[1])))
                    continue
                if reply[0] == "failed":
                    raise FoldProcessFailed(f"fold process {child.number} failed:\n{reply[1]}")
                answers[child.number] = reply
                del waiting[conn]  # type: ignore[arg-type]
        return [answers[child.number] for child in busy]

    def _stored(self, case_ids: list[str]) -> list[Row]:
        return self.lookups.stored(case_ids)

    def _tell(self, busy: list[_Child], what: str) -> None:
        """``commit`` or ``discard`` the states of the batch just folded."""
        try:
            for child in busy:
                child.send((what,))
        except OSError:
            self._stop()  # a process is gone: the next batch starts a new pool (empty caches)

    def _stop(self) -> None:
        pool, self._pool = self._pool, []
        for child in pool:
            child.stop()


@dataclass
class _FoldedBatch:
    """A batch the processes folded, not written yet (their states pending)."""

    batch: Sequence[RawMessage]
    busy: list[_Child]  # the processes that folded a share of it
    result: BatchResult
    tables: list[tuple[str, Any]]
    projected_at: datetime


class _Writing(threading.Thread):
    """One folded batch written in a thread of its own, while the processes fold the next and
    this process answers their look-ups (the store runs one statement at a time, so a look-up
    waits at most for one of the write's statements)."""

    def __init__(self, write: Callable[[_FoldedBatch], None], folded: _FoldedBatch) -> None:
        super().__init__(name="civicloop-fold-ahead-write", daemon=True)
        self.write, self.folded = write, folded
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.write(self.folded)
        except BaseException as exc:  # handed to the thread that joins
            self.error = exc


#: Knuth's multiplicative constant (2**32 / the golden ratio): mixes a CRC's bits into its top
_MIX = 0x9E3779B1


def owner(key: bytes | None, processes: int) -> int:
    """The fold process of a message: by its key, so all of a case's events meet.

    Not ``crc32(key) % processes``: librdkafka's default partitioner puts a key on partition
    ``crc32(key) % partitions``, so with 6 partitions and 2 processes that owner was the
    partition's parity — a batch read from even partitions went whole to one process while
    the other waited (docs/BENCHMARKS.md). The CRC's bits multiplied into the top 16 bits
    depend on all of its low bits, not on its residue modulo the partition count."""
    mixed = (zlib.crc32(key or b"") * _MIX) & 0xFFFFFFFF
    return (mixed >> 16) % processes


def _merged(answers: list[Any]) -> tuple[BatchResult, list[tuple[str, Any]]]:
    """The processes' answers as one batch: counts and dead letters added up, each table's
    Arrow parts concatenated (in write order)."""
    result = BatchResult()
    parts: dict[str, list[Any]] = {}
    for _, projected, skipped, dead, tables in answers:
        result.add(BatchResult(projected, skipped, list(dead)))
        for name, raw in tables:
            data = arrow.from_bytes(raw)
            parts.setdefault(name, [])
            if data.num_rows:
                parts[name].append(data)
    return result, [(name, _concat(found)) for name, found in parts.items()]


def _concat(tables: list[Any]) -> Any:
    import pyarrow as pa

    if not tables:
        return []  # nothing for this table in the batch: an empty list of rows
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables)


class _Child:
    """One fold process and the pipe to it."""

    def __init__(self, number: int, process: Any, conn: Connection) -> None:
        self.number, self.process, self.conn = number, process, conn

    @classmethod
    def start(cls, recipe: Recipe, number: int) -> _Child:
        # spawn, never fork: this process holds chDB's threads and Kafka clients' threads
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        process = context.Process(
            target=serve, args=(theirs, recipe), name=f"civicloop-fold-{number}", daemon=True
        )
        process.start()
        theirs.close()
        return cls(number, process, ours)

    def send_fold(self, share: list[RawMessage], projected_at: datetime) -> None:
        topic = share[0].topic
        wire = [(m.partition, m.offset, m.key, m.value, m.timestamp_ms) for m in share]
        self.send(("fold", topic, wire, projected_at))

    def send(self, message: tuple[Any, ...]) -> None:
        self.conn.send(message)

    def receive(self) -> tuple[Any, ...]:
        try:
            reply: tuple[Any, ...] = self.conn.recv()
        except (EOFError, OSError) as exc:
            code = self.process.exitcode
            raise FoldProcessFailed(f"fold process {self.number} is gone (exit code {code})") from exc
        return reply

    def stop(self) -> None:
        try:
            self.conn.send(("stop",))
        except OSError:
            pass
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        self.conn.close()


def serve(conn: Connection, recipe: Recipe) -> None:
    """A fold process: fold what the writer sends until it says stop (or is gone)."""
    from civicloop.runtime import tune_gc

    log.configure()
    tune_gc()

    def ask(case_ids: list[str]) -> dict[str, Any]:
        conn.send(("need", case_ids))
        return known_from_rows(conn.recv()[1])

    columns = fit.Given(recipe.types)
    states = PendingStates(ask, recipe.capacity)
    folder = Folder(states, columns, recipe.ignore_illegal, recipe.check_event, recipe.fold)
    try:
        while True:
            message = conn.recv()
            kind = message[0]
            if kind == "fold":
                reply, pending = _fold(folder, message)
                states.pending.append(pending)
                conn.send(reply)
            elif kind == "commit":
                states.commit()
            elif kind == "discard":
                states.pending.clear()
            elif kind == "forget":
                states.forget()
            elif kind == "stop":
                return
    except (EOFError, OSError):
        return  # the writer is gone (stopped or killed): nothing here is worth keeping


class PendingStates(StateCache):
    """A fold process's states: those of the batches it folded and the writer has not
    written yet (oldest first; at most two, while the replay folds one batch beside the
    write of the one before) over the cache of written ones. ``commit`` moves the oldest
    into the cache; ``discard`` drops them all."""

    def __init__(self, lookup: Callable[[list[str]], dict[str, Known]], capacity: int) -> None:
        super().__init__(lookup, capacity)
        self.pending: deque[dict[str, Known]] = deque()

    def load(self, case_ids: Iterable[str]) -> dict[str, Known]:
        wanted = set(case_ids)
        found: dict[str, Known] = {}
        for layer in self.pending:  # oldest first: a later batch's state wins
            found.update((cid, layer[cid]) for cid in wanted if cid in layer)
        found.update(super().load(wanted - found.keys()))
        return found

    def commit(self) -> None:
        if self.pending:
            self.remember(self.pending.popleft())

    def forget(self) -> None:
        super().forget()
        self.pending.clear()


def _fold(folder: Folder, message: tuple[Any, ...]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """(the reply to the writer, the states to remember if the batch is written)."""
    _, topic, wire, projected_at = message
    batch = [RawMessage(topic, p, o, k, v, ts) for p, o, k, v, ts in wire]
    try:
        folded = folder.fold_batch(batch, projected_at)
        tables = [(name, arrow.to_bytes(data)) for name, data in folded.tables]
    except StoreRejected as exc:
        return ("rejected", exc.code, str(exc).removeprefix(f"{exc.code}: ")), {}
    except (EOFError, OSError):
        raise  # the writer is gone while this process asked it for states
    except Exception:
        return ("failed", traceback.format_exc()), {}
    result = folded.result
    return ("folded", result.projected, result.skipped, result.dead, tables), folded.states


def projection(
    store: Store,
    database: str,
    publish_dead: Callable[[Sequence[DeadLetter]], None],
    processes: int,
    ignore_illegal: frozenset[str] = frozenset(),
    check_event: Callable[[Event], None] = check_decoded,
) -> Projection:
    """The projection of ``database`` folding in ``processes`` processes (1: in this one)."""
    if processes <= 1:
        return Projector(
            store, database, publish_dead, ignore_illegal=ignore_illegal, check_event=check_event
        )
    return ParallelProjector(
        store, database, publish_dead, processes, ignore_illegal=ignore_illegal, check_event=check_event
    )
