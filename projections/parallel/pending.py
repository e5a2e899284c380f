"""A fold process's states: the written ones (an LRU cache) under the pending layers of the
batches it folded that the writer has not written yet."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

from civicloop.projections.state_store import Known, StateCache


class PendingStates(StateCache):
    """The states of the batches a fold process folded and the writer has not written yet
    (oldest first; at most two, while the replay folds one batch beside the write of the one
    before) over the cache of written ones. ``commit`` moves the oldest into the cache;
    ``discard`` drops them all."""

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

    def fold_onto(self, states: dict[str, Known]) -> None:
        """A batch was folded into ``states``: pending until the writer commits or discards it."""
        self.pending.append(states)

    def commit(self) -> None:
        if self.pending:
            self.remember(self.pending.popleft())

    def discard(self) -> None:
        self.pending.clear()

    def forget(self) -> None:
        super().forget()
        self.pending.clear()
