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

One module per job: ``pool.py`` (the processes seen from the writer: who folds a message,
starting them, their look-ups), ``messages.py`` (what crosses the pipe, one class per kind),
``process.py`` (a fold process), ``pending.py`` (its pending states), ``projector.py`` (the
projection: fold, write, commit) and ``pipeline.py`` (the replay's fold-beside-write loop).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from civicloop.projections.contract import Contract
from civicloop.projections.parallel.pool import FoldProcessFailed, owner
from civicloop.projections.parallel.projector import ParallelProjector
from civicloop.projections.projector import Projection, Projector
from civicloop.projections.store.base import Store
from civicloop.projections.tables.dead_letters import DeadLetter
from civicloop.schemas.event import Event
from civicloop.schemas.events import check_decoded

__all__ = ["FoldProcessFailed", "ParallelProjector", "owner", "projection"]


def projection(
    store: Store,
    database: str,
    publish_dead: Callable[[Sequence[DeadLetter]], None],
    processes: int,
    ignore_illegal: frozenset[str] = frozenset(),
    check_event: Callable[[Event, int], None] = check_decoded,
    contract: Contract | None = None,
) -> Projection:
    """The projection of ``database`` folding in ``processes`` processes (1: in this one),
    judging each message by the revision of the event contract ``contract`` says is in force
    where it sits (None: the current one; ``projections/contract.py``)."""
    if processes <= 1:
        return Projector(
            store,
            database,
            publish_dead,
            ignore_illegal=ignore_illegal,
            check_event=check_event,
            contract=contract,
        )
    return ParallelProjector(
        store,
        database,
        publish_dead,
        processes,
        ignore_illegal=ignore_illegal,
        check_event=check_event,
        contract=contract,
    )
