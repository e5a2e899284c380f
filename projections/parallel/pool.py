"""The fold processes, seen from the writer: which one folds a message (``owner``), starting
them, handing each its share of a batch, answering their state look-ups while they fold, and
telling them what became of the batch (``messages.Control``)."""

from __future__ import annotations

import multiprocessing
import zlib
from collections.abc import Callable, Sequence
from datetime import datetime
from multiprocessing.connection import Connection, wait
from typing import Any

import civicloop
from civicloop import compiled
from civicloop.projections.contract import UNRECORDED, Boundaries
from civicloop.projections.parallel.messages import (
    Answer,
    Control,
    Failed,
    FoldShare,
    Need,
    Reply,
    Request,
    States,
)
from civicloop.projections.parallel.process import Recipe, serve
from civicloop.projections.projector import RawMessage
from civicloop.projections.store.base import Row


class FoldProcessFailed(RuntimeError):
    """A fold process died or raised outside per-message containment: the batch is retried."""


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


class FoldProcess:
    """One fold process and the pipe to it."""

    def __init__(self, number: int, process: Any, conn: Connection) -> None:
        self.number, self.process, self.conn = number, process, conn

    @classmethod
    def start(cls, recipe: Recipe, number: int) -> FoldProcess:
        # spawn, never fork: this process holds chDB's threads and Kafka clients' threads
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        process = context.Process(
            target=serve, args=(theirs, recipe), name=f"civicloop-fold-{number}", daemon=True
        )
        process.start()
        theirs.close()
        return cls(number, process, ours)

    def send(self, message: Request) -> None:
        self.conn.send(message)

    def receive(self) -> Reply:
        try:
            reply: Reply = self.conn.recv()
        except (EOFError, OSError) as exc:
            code = self.process.exitcode
            changed = compiled.changed_since(civicloop.CHOSEN)
            why = f": {changed}" if changed else ""
            raise FoldProcessFailed(f"fold process {self.number} is gone (exit code {code}){why}") from exc
        return reply

    def stop(self) -> None:
        try:
            self.conn.send(Control.STOP)
        except OSError:
            pass
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        self.conn.close()


class Pool:
    """``size`` fold processes, started at the first batch (with ``recipe()``) and again at the
    batch after a failure: a pool in an unknown state is never reused."""

    def __init__(self, size: int, recipe: Callable[[], Recipe]) -> None:
        self.size = size
        self.recipe = recipe
        self.processes: list[FoldProcess] = []
        self._forget = False

    def fold(
        self,
        batch: Sequence[RawMessage],
        projected_at: datetime,
        stored: Callable[[list[str]], list[Row]],
        boundaries: Boundaries = UNRECORDED,
    ) -> tuple[list[FoldProcess], list[Answer]]:
        """Each process's share of ``batch`` folded, answering their look-ups with ``stored``
        and judging by the contract's ``boundaries``: (the processes that had a share, their
        answers in the same order)."""
        pool = self._started()
        shares: list[list[RawMessage]] = [[] for _ in pool]
        for msg in batch:
            shares[owner(msg.key, len(pool))].append(msg)
        busy = [child for child, share in zip(pool, shares, strict=True) if share]
        try:
            if self._forget:
                for child in pool:
                    child.send(Control.FORGET)
                self._forget = False
            for child, share in zip(pool, shares, strict=True):
                if share:
                    child.send(FoldShare.of(share, projected_at, boundaries))
            return busy, self._collect(busy, stored)
        except BaseException:
            self.stop()  # a pool in an unknown state is not reused: the next try starts afresh
            raise

    def tell(self, busy: list[FoldProcess], what: Control) -> None:
        """``COMMIT`` or ``DISCARD`` the states of the batch ``busy`` just folded."""
        try:
            for child in busy:
                child.send(what)
        except OSError:
            self.stop()  # a process is gone: the next batch starts a new pool (empty caches)

    def forget(self) -> None:
        # Only flagged here: the worker calls this from its event loop (a rebalance) while the
        # projector thread may be talking to the fold processes. The next batch applies it
        # before it folds anything, which is all a forgotten cache must guarantee.
        self._forget = True

    def stop(self) -> None:
        pool, self.processes = self.processes, []
        for child in pool:
            child.stop()

    def _started(self) -> list[FoldProcess]:
        if not self.processes:
            recipe = self.recipe()
            self.processes = [FoldProcess.start(recipe, n) for n in range(self.size)]
        return self.processes

    def _collect(self, busy: list[FoldProcess], stored: Callable[[list[str]], list[Row]]) -> list[Answer]:
        """Each busy process's answer, serving their state look-ups as they come."""
        answers: dict[int, Answer] = {}
        waiting = {child.conn: child for child in busy}
        while waiting:
            for conn in wait(list(waiting)):
                child = waiting[conn]  # type: ignore[index]
                reply = child.receive()
                if isinstance(reply, Need):
                    child.send(States(stored(reply.case_ids)))
                    continue
                if isinstance(reply, Failed):
                    raise FoldProcessFailed(f"fold process {child.number} failed:\n{reply.trace}")
                answers[child.number] = reply
                del waiting[conn]  # type: ignore[arg-type]
        return [answers[child.number] for child in busy]
