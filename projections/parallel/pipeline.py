"""The replay's loop (``project_all``): batch N+1 folded by the processes while batch N is
written in a thread (docs/DESIGN.md §8).

Nothing else changes: batches are written one at a time, in order, and ``written`` hears of
each only after its write returned and its states were committed. A fold process folds batch
N+1 onto the states of batch N it holds pending (a case's events all reach the same process),
so it only looks up cases N did not touch — which N's write does not change. If N's write
fails, both batches' states are discarded: N+1 was folded onto states that were never stored.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from civicloop.projections.projector import BatchResult, RawMessage
from civicloop.projections.store.base import StoreRejected

if TYPE_CHECKING:
    from civicloop.projections.parallel.projector import FoldedBatch, ParallelProjector

Written = Callable[[Sequence[RawMessage], BatchResult], None]


def fold_beside_write(
    projector: ParallelProjector, batches: Iterable[Sequence[RawMessage]], written: Written
) -> None:
    """Each of ``batches`` projected by ``projector``, the next folded while one is written."""
    ahead: FoldedBatch | None = None  # folded, not yet written
    for batch in batches:
        if ahead is None:
            ahead = _folded_or_written(projector, batch, written)
            continue
        writing = _Writing(projector.write, ahead)
        writing.start()
        try:
            folded = projector.folded(batch)
        except StoreRejected:
            folded = None  # its content is refused: written alone, below, once N is
        finally:
            writing.join()
        if writing.error is not None:
            projector.discard_pending()  # N's states, and N+1's folded onto them
            if not isinstance(writing.error, StoreRejected):
                raise writing.error
            written(ahead.batch, projector.project_or_split(ahead.batch))
            ahead = _folded_or_written(projector, batch, written)
            continue
        projector.committed(ahead)
        written(ahead.batch, ahead.result)
        if folded is None:
            _written(projector, batch, written)
        ahead = folded
    if ahead is not None:
        _written(projector, ahead.batch, written, ahead)


def _folded_or_written(
    projector: ParallelProjector, batch: Sequence[RawMessage], written: Written
) -> FoldedBatch | None:
    """``batch`` folded, or (when the store would refuse its content) written piecewise."""
    try:
        return projector.folded(batch)
    except StoreRejected:
        _written(projector, batch, written)
        return None


def _written(
    projector: ParallelProjector,
    batch: Sequence[RawMessage],
    written: Written,
    folded: FoldedBatch | None = None,
) -> None:
    """``batch`` written on its own (``folded``: already folded, nothing after it pending)."""
    if folded is None:
        result = projector.project_or_split(batch)
    else:
        try:
            projector.write(folded)
        except StoreRejected:
            projector.discard_pending()
            result = projector.project_or_split(batch)
        except BaseException:
            projector.discard_pending()
            raise
        else:
            projector.committed(folded)
            result = folded.result
    written(batch, result)


class _Writing(threading.Thread):
    """One folded batch written in a thread of its own, while the processes fold the next and
    this process answers their look-ups (the store runs one statement at a time, so a look-up
    waits at most for one of the write's statements)."""

    def __init__(self, write: Callable[[FoldedBatch], None], folded: FoldedBatch) -> None:
        super().__init__(name="civicloop-fold-ahead-write", daemon=True)
        self.write, self.folded = write, folded
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.write(self.folded)
        except BaseException as exc:  # handed to the thread that joins
            self.error = exc
