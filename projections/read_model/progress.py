"""How far the projections have got (``projection_progress``, written by ``tables/progress.py``):
the last offset per partition whose batch is fully written, and how many messages are not yet.

"Projections include everything I produced" is: for every partition, the marked offset is at
least the highest offset the producer had confirmed (the API's read-your-writes, the feeder,
the benchmarks). One row per (topic, partition), the highest offset kept, so ``max(offset)``
is right with or without ``FINAL``.
"""

from __future__ import annotations

from collections.abc import Mapping

from civicloop.projections.store.base import Query
from civicloop.projections.tables.schema import PROGRESS


def projected_offsets(query: Query, database: str, topic: str) -> dict[int, int]:
    """partition → the last offset of ``topic`` whose batch is fully written."""
    found = query(
        f"SELECT partition, max(offset) FROM {database}.{PROGRESS} "
        "WHERE topic = %(topic)s GROUP BY partition",
        {"topic": topic},
    )
    return {int(partition): int(offset) for partition, offset in found}


def standing(query: Query, database: str, topic: str) -> dict[int, int]:
    """``projected_offsets``, or nothing where ``database`` holds no projection yet (a replay
    into an empty store); any other failure of the store is raised."""
    there = f"SELECT count() FROM system.tables WHERE database = %(db)s AND name = '{PROGRESS}'"
    if not query(there, {"db": database})[0][0]:
        return {}
    return projected_offsets(query, database, topic)


def remaining(targets: Mapping[int, int], done: Mapping[int, int]) -> int:
    """Messages not yet projected (upper bound: offsets may have gaps from transactions)."""
    return sum(max(0, offset - done.get(partition, -1)) for partition, offset in targets.items())
