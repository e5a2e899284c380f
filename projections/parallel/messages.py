"""What crosses the pipe between the writer and a fold process: one class per kind of
message (pickled by ``multiprocessing``), never a tuple told apart by a string in its first
place. A fold process's conversation (``process.serve``):

- writer → process: a :class:`FoldShare` to fold; :class:`States` answering its
  :class:`Need`; a :class:`Control` about the batches it folded (commit, discard, forget, stop).
- process → writer: :class:`Need` (the cases its cache misses) while it folds, then exactly
  one of :class:`FoldedShare`, :class:`Rejected` (content the store would refuse) or
  :class:`Failed` (a bug outside per-message containment).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from civicloop.projections.contract import Boundaries
from civicloop.projections.projector import RawMessage
from civicloop.projections.store.base import Row
from civicloop.projections.tables.dead_letters import DeadLetter

#: one message on the pipe: (partition, offset, key, value, timestamp ms) — plain values pickle
#: faster than a RawMessage per event
Wire = tuple[int, int, bytes | None, bytes | None, int | None]


class Control(Enum):
    """What the writer tells a fold process about the batches it folded (``pending.py``)."""

    COMMIT = "commit"  # the oldest pending batch was written: remember its states
    DISCARD = "discard"  # the pending batches were not written: drop their states
    FORGET = "forget"  # drop every state, pending and remembered (a rebalance)
    STOP = "stop"


@dataclass(frozen=True)
class FoldShare:
    """A fold process's share of a batch: its messages, all of one topic."""

    topic: str
    messages: list[Wire]
    projected_at: datetime  # the moment every row of the batch carries
    boundaries: Boundaries  # the contract's revisions by offset (projections/contract.py)

    @classmethod
    def of(cls, share: Sequence[RawMessage], projected_at: datetime, boundaries: Boundaries) -> FoldShare:
        wire = [(m.partition, m.offset, m.key, m.value, m.timestamp_ms) for m in share]
        return cls(share[0].topic, wire, projected_at, boundaries)

    def batch(self) -> list[RawMessage]:
        return [RawMessage(self.topic, p, o, k, v, ts) for p, o, k, v, ts in self.messages]


@dataclass(frozen=True)
class States:
    """The writer's answer to a :class:`Need`: the stored ``case_state`` rows of those cases."""

    rows: list[Row]


@dataclass(frozen=True)
class Need:
    """A fold process asks for the states of cases its cache misses."""

    case_ids: list[str]


@dataclass(frozen=True)
class FoldedShare:
    """A share folded: counts, dead letters and each table's rows as Arrow IPC bytes."""

    projected: int
    skipped: int
    dead: list[DeadLetter]
    tables: list[tuple[str, bytes]]


@dataclass(frozen=True)
class Rejected:
    """The share holds content the store would refuse (``StoreRejected``'s code and message)."""

    code: str
    message: str


@dataclass(frozen=True)
class Failed:
    """The fold raised outside per-message containment: its traceback."""

    trace: str


#: what the writer sends a fold process
Request = FoldShare | States | Control
#: what a fold process sends the writer
Reply = Need | FoldedShare | Rejected | Failed
#: a fold process's last word on its share
Answer = FoldedShare | Rejected | Failed
