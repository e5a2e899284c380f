"""How far the projections have got: the last offset per partition whose batch is fully written.

The projector writes a batch's tables in a fixed order and this marker last of all — after the
case lifecycle, the tasks and the case state. So "projections include everything I produced"
is: for every partition, the marked offset is at least the highest offset the producer had
confirmed. (The event log alone would say so too early: its rows are written first, and a
message that was skipped or ignored leaves no row in it.)

One row per (topic, partition), the highest offset kept (``ReplacingMergeTree(offset)``), so
``max(offset)`` is right with or without ``FINAL`` and redelivered batches change nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from civicloop.projections.store.base import Query
from civicloop.projections.tables.schema import PROGRESS


def rows(read: Iterable[tuple[str, int, int]], projected_at: datetime) -> list[dict[str, Any]]:
    """One marker row per (topic, partition): the highest offset among ``read`` messages,
    given as (topic, partition, offset)."""
    highest: dict[tuple[str, int], int] = {}
    for topic, partition, offset in read:
        key = (topic, partition)
        if offset > highest.get(key, -1):
            highest[key] = offset
    return [
        {"topic": topic, "partition": partition, "offset": offset, "projected_at": projected_at}
        for (topic, partition), offset in highest.items()
    ]


def projected_offsets(query: Query, database: str, topic: str) -> dict[int, int]:
    found = query(
        f"SELECT partition, max(offset) FROM {database}.{PROGRESS} "
        "WHERE topic = %(topic)s GROUP BY partition",
        {"topic": topic},
    )
    return {int(partition): int(offset) for partition, offset in found}


def remaining(targets: Mapping[int, int], done: Mapping[int, int]) -> int:
    """Messages not yet projected (upper bound: offsets may have gaps from transactions)."""
    return sum(max(0, offset - done.get(partition, -1)) for partition, offset in targets.items())
