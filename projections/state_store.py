"""Where the worker keeps each case's folded state: ClickHouse, fronted by a bounded cache.

The fold needs a case's state to validate its next event, but a worker must not hold every
case ever seen in memory (docs/DESIGN.md §8), and Faust's table changelogs are a known recovery hazard
(docs/DESIGN.md §6). So the state lives in ``case_state`` (one row per case, latest by offset) and a
bounded LRU keeps the hot cases. ``offset`` is the watermark: the last message of the case's
partition that was fully projected. The row is written after every other table of its batch,
so a message at or below the watermark has all its effects stored and is skipped on replay.

A case lives on one partition: the one its first legal event came from. Only messages of that
partition ever change its state (the projector dead-letters others as ``misrouted``), and only
cases with a state are saved, so every row of a case carries the same partition and "latest by
offset" is well defined (offsets of different partitions are not comparable).

Look-ups are chunked so that no SQL text grows with the batch: at most ``LOOKUP_TEXT``
characters of case ids per query, whatever the number or length of the ids (ClickHouse refuses
a query text over 256 KiB; docs/TRUST.md §3).

States are read up to date (``Store.query_caught_up``): on a cluster, from a replica per shard
that holds every acknowledged write, as a lagging replica would hand back an older state.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from civicloop.projections.fold.casestate import CaseState
from civicloop.projections.store.base import Query, Row, Store, literal
from civicloop.projections.tables.schema import CASE_STATE

#: characters of case-id literals in one look-up query (ClickHouse's max_query_size: 256 KiB)
LOOKUP_TEXT = 64 * 1024


@dataclass
class Known:
    """A case's state and the last offset of its partition fully projected for it."""

    state: CaseState
    partition: int
    offset: int


class StateCache:
    """Each case's state for a batch: a bounded LRU of recent cases, and ``lookup`` for the
    rest (the store's ``case_state``, or a fold process asking its writer for it)."""

    def __init__(self, lookup: Callable[[list[str]], dict[str, Known]], capacity: int = 100_000) -> None:
        self.lookup = lookup
        self.capacity = capacity
        self._cache: OrderedDict[str, Known] = OrderedDict()

    def load(self, case_ids: Iterable[str]) -> dict[str, Known]:
        wanted = set(case_ids)
        found = {cid: self._cache[cid] for cid in wanted if cid in self._cache}
        missing = wanted - found.keys()
        if missing:
            found.update(self.lookup(sorted(missing)))
        return found

    def remember(self, changed: dict[str, Known]) -> None:
        """Cache ``changed`` once its rows are written."""
        for cid, known in changed.items():
            self._cache[cid] = known
            self._cache.move_to_end(cid)
        while len(self._cache) > self.capacity:
            self._cache.popitem(last=False)

    def forget(self) -> None:
        """Drop the cache (after a rebalance another worker may have moved a case on)."""
        self._cache.clear()


class StateStore(StateCache):
    """Load states for a batch: cache first, chunked queries of ``case_state`` for the misses
    (the projector's ``Writer`` writes the states, ``state_rows``)."""

    def __init__(self, store: Store, database: str, capacity: int = 100_000) -> None:
        super().__init__(lambda case_ids: known_from_rows(self.stored(case_ids)), capacity)
        self.store = store
        self.database = database
        self.table = f"{database}.{CASE_STATE}"

    def stored(self, case_ids: Iterable[str]) -> list[Row]:
        """(case_id, serialised state, partition, offset) of each of ``case_ids`` that has a
        stored state, in chunked queries."""
        found: list[Row] = []
        for chunk in chunks(sorted(set(case_ids))):
            found.extend(self._query(chunk))
        return found

    def _query(self, case_ids: list[str]) -> list[Row]:
        # on a cluster, only from replicas that have every write (docs/CLUSTER.md)
        return self.store.query_caught_up(self.database, CASE_STATE, _SELECT, {"ids": case_ids})


def state_rows(changed: dict[str, Known]) -> list[dict[str, Any]]:
    """The ``case_state`` rows of ``changed`` (written after the batch's other tables)."""
    now = datetime.now(UTC)
    return [
        {
            "case_id": cid,
            "state": known.state.to_bytes(),
            "partition": known.partition,
            "offset": known.offset,
            "updated_at": now,
        }
        for cid, known in changed.items()
    ]


_SELECT = (
    "SELECT case_id, argMax(state, offset), argMax(partition, offset), max(offset) "
    "FROM {table} WHERE case_id IN %(ids)s AND state != '' GROUP BY case_id"
)


def read_known(query: Query, table: str, case_ids: Iterable[str]) -> dict[str, Known]:
    """The stored state of each case in ``case_ids`` that has one (``table``: db.case_state).

    Read-only: what the API checks a handling call against before producing it."""
    found: dict[str, Known] = {}
    for chunk in chunks(sorted(set(case_ids))):
        found.update(known_from_rows(query(_SELECT.replace("{table}", table), {"ids": chunk})))
    return found


def known_from_rows(rows: list[Row]) -> dict[str, Known]:
    """The states in rows of ``StateStore.stored`` (case_id, state, partition, offset)."""
    return {str(cid): Known(_state(raw), int(part), int(off)) for cid, raw, part, off in rows}


def chunks(case_ids: list[str], budget: int = LOOKUP_TEXT) -> Iterator[list[str]]:
    """``case_ids`` in runs whose SQL literals take at most ``budget`` characters (one id
    longer than that still goes alone: it is a query of its own, not a growing one)."""
    chunk: list[str] = []
    size = 0
    for cid in case_ids:
        length = len(literal(cid)) + 2  # quotes and escapes, plus ", "
        if chunk and size + length > budget:
            yield chunk
            chunk, size = [], 0
        chunk.append(cid)
        size += length
    if chunk:
        yield chunk


def _state(raw: Any) -> CaseState:
    return CaseState.from_bytes(raw.encode() if isinstance(raw, str) else raw)
