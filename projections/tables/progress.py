"""How far the projections have got: the last offset per partition whose batch is fully written.

The projector writes a batch's tables in a fixed order and this marker last of all — after the
case lifecycle, the tasks and the case state. So "projections include everything I produced"
is: for every partition, the marked offset is at least the highest offset the producer had
confirmed. (The event log alone would say so too early: its rows are written first, and a
message that was skipped or ignored leaves no row in it.)

One row per (topic, partition), the highest offset kept (``ReplacingMergeTree(offset)``), so
``max(offset)`` is right with or without ``FINAL`` and redelivered batches change nothing.
It is read by ``read_model/progress.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any


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
