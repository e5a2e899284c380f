"""The parallel projection: a batch folded by the pool's processes, written from this one by
the same ``Writer`` as in one process, and the processes told whether it was written."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from civicloop.projections.contract import Contract
from civicloop.projections.fold.lifecycle import fold as lifecycle_fold
from civicloop.projections.parallel import pipeline
from civicloop.projections.parallel.messages import Control, FoldedShare, Rejected
from civicloop.projections.parallel.pool import FoldProcess, Pool
from civicloop.projections.parallel.process import Recipe
from civicloop.projections.projector import BatchResult, Fold, Projection, RawMessage, Writer
from civicloop.projections.state_store import StateStore
from civicloop.projections.store import arrow
from civicloop.projections.store.base import Store, StoreRejected
from civicloop.projections.tables.dead_letters import DeadLetter
from civicloop.schemas.event import Event
from civicloop.schemas.events import check_decoded


@dataclass
class FoldedBatch:
    """A batch the processes folded, not written yet (their states pending)."""

    batch: Sequence[RawMessage]
    busy: list[FoldProcess]  # the processes that folded a share of it
    result: BatchResult
    tables: list[tuple[str, Any]]
    projected_at: datetime


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
        check_event: Callable[[Event, int], None] = check_decoded,
        fold: Fold = lifecycle_fold,
        contract: Contract | None = None,
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
        self.contract = contract
        self.pool = Pool(processes, self._recipe)

    def project(self, batch: Sequence[RawMessage]) -> BatchResult:
        folded = self.folded(batch)
        try:
            self.write(folded)
        except BaseException:
            self.pool.tell(folded.busy, Control.DISCARD)
            raise
        self.committed(folded)
        return folded.result

    def project_all(
        self,
        batches: Iterable[Sequence[RawMessage]],
        written: Callable[[Sequence[RawMessage], BatchResult], None],
    ) -> None:
        """Each batch folded while the one before it is written (``pipeline.py``)."""
        pipeline.fold_beside_write(self, batches, written)

    def folded(self, batch: Sequence[RawMessage]) -> FoldedBatch:
        """``batch`` folded by the processes, not written; :class:`StoreRejected` (their
        states discarded) when a process found content the store would refuse."""
        projected_at = datetime.now(UTC)
        boundaries = self.boundaries(batch)  # recorded before any process judges under them
        busy, answers = self.pool.fold(batch, projected_at, self.lookups.stored, boundaries)
        rejected = [a for a in answers if isinstance(a, Rejected)]
        if rejected:
            self.pool.tell(busy, Control.DISCARD)
            raise StoreRejected(rejected[0].code, rejected[0].message)
        result, tables = _merged([a for a in answers if isinstance(a, FoldedShare)])
        return FoldedBatch(batch, busy, result, tables, projected_at)

    def write(self, folded: FoldedBatch) -> None:
        self.writer.write(folded.batch, folded.result.dead, folded.tables, folded.projected_at)

    def committed(self, folded: FoldedBatch) -> None:
        """``folded`` was written: only now may the processes fold onto its states."""
        self.pool.tell(folded.busy, Control.COMMIT)

    def discard_pending(self) -> None:
        """Every batch folded and not written is dropped from the processes' states."""
        self.pool.tell(self.pool.processes, Control.DISCARD)

    def forget(self) -> None:
        self.pool.forget()

    def close(self) -> None:
        self.pool.stop()

    @property
    def pids(self) -> list[int]:
        """The fold processes' ids (none before the first batch, or after a failure)."""
        return [child.process.pid for child in self.pool.processes]

    def _recipe(self) -> Recipe:
        return Recipe(
            self.writer.columns.types(),
            max(1, self.state_capacity // self.processes),
            self.ignore_illegal,
            self.check_event,
            self.fold,
        )


def _merged(answers: list[FoldedShare]) -> tuple[BatchResult, list[tuple[str, Any]]]:
    """The processes' answers as one batch: counts and dead letters added up, each table's
    Arrow parts concatenated (in write order)."""
    result = BatchResult()
    parts: dict[str, list[Any]] = {}
    for answer in answers:
        result.add(BatchResult(answer.projected, answer.skipped, list(answer.dead)))
        for name, raw in answer.tables:
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
