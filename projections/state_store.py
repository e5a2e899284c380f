"""Where the worker keeps each case's folded state: ClickHouse, fronted by a bounded cache.

The fold needs a case's state to validate its next event, but a worker must not hold every
case ever seen in memory (docs/DESIGN.md §8), and Faust's table changelogs are a known recovery hazard
(docs/DESIGN.md §6). So the state lives in ``case_state`` (one row per case, latest by offset) and a
bounded LRU keeps the hot cases. ``offset`` is the watermark: the last message of the case's
partition that was fully projected. The row is written after every other table of its batch,
so a message at or below the watermark has all its effects stored and is skipped on replay.
On a cluster the states are read from a replica per shard that holds every acknowledged write
(``ClusterStore.query_caught_up``): a lagging replica would hand back an older state.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from civicloop.projections.fold.casestate import CaseState
from civicloop.projections.store.base import Query, Row, Store
from civicloop.projections.store.cluster import ClusterStore
from civicloop.projections.tables.schema import CASE_STATE


@dataclass
class Known:
    """A case's state (None: no legal event yet) and the last offset fully projected for it."""

    state: CaseState | None
    partition: int
    offset: int


class StateStore:
    """Load states for a batch (cache first, one query for the misses), save after a batch."""

    def __init__(self, store: Store, database: str, capacity: int = 100_000) -> None:
        self.store = store
        self.database = database
        self.table = f"{database}.{CASE_STATE}"
        self.capacity = capacity
        self._cache: OrderedDict[str, Known] = OrderedDict()

    def load(self, case_ids: Iterable[str]) -> dict[str, Known]:
        wanted = set(case_ids)
        found = {cid: self._cache[cid] for cid in wanted if cid in self._cache}
        missing = wanted - found.keys()
        if missing:
            found.update(self._query(missing))
        return found

    def save(self, changed: dict[str, Known]) -> None:
        """Persist, then cache; call only after the batch's other tables were written."""
        now = datetime.now(UTC)
        self.store.insert(
            self.table,
            [
                {
                    "case_id": cid,
                    "state": known.state.to_bytes() if known.state else b"",
                    "partition": known.partition,
                    "offset": known.offset,
                    "updated_at": now,
                }
                for cid, known in changed.items()
            ],
        )
        for cid, known in changed.items():
            self._cache[cid] = known
            self._cache.move_to_end(cid)
        while len(self._cache) > self.capacity:
            self._cache.popitem(last=False)

    def forget(self) -> None:
        """Drop the cache (after a rebalance another worker may have moved a case on)."""
        self._cache.clear()

    def _query(self, case_ids: set[str]) -> dict[str, Known]:
        params = {"ids": sorted(case_ids)}
        if isinstance(self.store, ClusterStore):
            # on a cluster, read only from replicas that have every write (docs/CLUSTER.md)
            return _known(self.store.query_caught_up(self.database, CASE_STATE, _SELECT, params))
        return read_known(self.store.query, self.table, case_ids)


_SELECT = (
    "SELECT case_id, argMax(state, offset), argMax(partition, offset), max(offset) "
    "FROM {table} WHERE case_id IN %(ids)s GROUP BY case_id"
)


def read_known(query: Query, table: str, case_ids: Iterable[str]) -> dict[str, Known]:
    """The stored state of each case in ``case_ids`` that has one (``table``: db.case_state).

    Read-only: what the API checks a handling call against before producing it."""
    return _known(query(_SELECT.replace("{table}", table), {"ids": sorted(set(case_ids))}))


def _known(rows: list[Row]) -> dict[str, Known]:
    return {str(cid): Known(_state(raw), int(part), int(off)) for cid, raw, part, off in rows}


def _state(raw: Any) -> CaseState | None:
    if not raw:
        return None
    return CaseState.from_bytes(raw.encode() if isinstance(raw, str) else raw)
