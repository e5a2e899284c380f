"""Which revision of the event contract judges a message: by its place in the log.

An event is judged by the contract that was in force when the system first judged it
(``schemas/revisions.py``, docs/TRUST.md §1). The boundary of a revision on a partition is the
first offset judged under it; offsets below every boundary were judged before revisions were
recorded, by ``BASE``. Nothing the producer writes takes part (its ``recorded_at``, its schema
version): a new event cannot be given the laxer rule.

Before anything of a partition is judged under ``CURRENT`` for the first time, its boundary is
recorded durably (:class:`Ledger`: the ``<ns>.contract`` topic, ``streams/contract.py``) — by
the worker, and by a replay that gets there first. So a kill at any moment leaves either no
boundary (nothing was judged under the new revision) or one that every later judge, a replay
from an empty store included, reads back. The boundary is where the live projection stands
(``projection_progress`` + 1): what it holds was judged by the code before, and a redelivered
batch below it is judged as it was then. A partition the live projection never reached starts
under ``CURRENT`` at the first offset judged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from civicloop import log
from civicloop.schemas.revisions import BASE, CURRENT

_log = log.get(__name__)
#: (topic, partition)
Where = tuple[str, int]


@dataclass(frozen=True)
class Boundary:
    """Revision ``revision`` of the contract judges ``topic``'s ``partition`` from ``offset`` on."""

    topic: str
    partition: int
    revision: int
    offset: int


@dataclass(frozen=True)
class Boundaries:
    """The recorded boundaries, per (topic, partition): (offset, revision), newest revision
    first. Plain data: fold processes receive it with each batch."""

    by_partition: Mapping[Where, tuple[tuple[int, int], ...]] = field(default_factory=dict)
    #: the revision of a partition without any boundary (``CURRENT`` where none is recorded
    #: at all: a projection without a ledger, as in the component tests)
    otherwise: int = CURRENT

    @classmethod
    def of(cls, recorded: Iterable[Boundary]) -> Boundaries:
        """The boundaries of ``recorded``; a revision recorded twice for a partition takes
        effect at the lower offset (the first judged under it)."""
        first: dict[Where, dict[int, int]] = {}
        for b in recorded:
            known = first.setdefault((b.topic, b.partition), {})
            known[b.revision] = min(b.offset, known.get(b.revision, b.offset))
        return cls(
            {
                where: tuple((o, r) for r, o in sorted(known.items(), reverse=True))
                for where, known in first.items()
            },
            BASE,
        )

    def revision(self, topic: str, partition: int, offset: int) -> int:
        """The revision that judges the message at ``offset``: the newest one in force there."""
        for start, revision in self.by_partition.get((topic, partition), ()):
            if offset >= start:
                return revision
        return self.otherwise

    def has(self, where: Where, revision: int) -> bool:
        return any(r == revision for _, r in self.by_partition.get(where, ()))


#: no ledger: every message judged by ``CURRENT`` (projections built without Kafka: tests)
UNRECORDED = Boundaries()


class Ledger(Protocol):
    """Where the boundaries are kept, outside every projection: a replay from an empty store
    must still know them."""

    def read(self) -> list[Boundary]:
        """Every boundary recorded so far."""

    def record(self, boundaries: list[Boundary]) -> None:
        """Keep ``boundaries`` durably; returns only once they are kept, raises otherwise."""


class Contract:
    """The boundaries a batch is judged by, its missing ones recorded first.

    ``projected`` says where the live projection stands on a topic (partition → last offset
    fully written: ``read_model/progress.py``) — the live database's, also for a replay that
    writes elsewhere."""

    def __init__(self, ledger: Ledger, projected: Callable[[str], dict[int, int]]) -> None:
        self.ledger = ledger
        self.projected = projected
        self._read: list[Boundary] = []
        self._known = Boundaries.of(())

    def boundaries(self, batch: Iterable[tuple[str, int, int]]) -> Boundaries:
        """The boundaries of the (topic, partition, offset) messages of a batch, each partition's
        ``CURRENT`` boundary recorded before this returns if it was not yet."""
        first: dict[Where, int] = {}
        for topic, partition, offset in batch:
            first[(topic, partition)] = min(offset, first.get((topic, partition), offset))
        missing = [where for where in first if not self._known.has(where, CURRENT)]
        if missing:
            # another worker (a rebalance) or a replay may have recorded them since
            self._read = self.ledger.read()
            self._known = Boundaries.of(self._read)
            missing = [where for where in missing if not self._known.has(where, CURRENT)]
        if missing:
            self._record(missing, first)
        return self._known

    def _record(self, missing: list[Where], first: dict[Where, int]) -> None:
        placed = []
        for topic in sorted({topic for topic, _ in missing}):
            stands = self.projected(topic)
            for where in (w for w in missing if w[0] == topic):
                # below where the live projection stands, the code before judged; a redelivered
                # batch there is judged as it was then
                offset = max(stands.get(where[1], -1) + 1, first[where])
                placed.append(Boundary(topic, where[1], CURRENT, offset))
        self.ledger.record(placed)
        for b in placed:
            _log.info(
                "contract_boundary_recorded",
                topic=b.topic,
                partition=b.partition,
                revision=b.revision,
                offset=b.offset,
            )
        self._read.extend(placed)
        self._known = Boundaries.of(self._read)
