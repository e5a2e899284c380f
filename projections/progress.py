"""How far the projections have got: the last offset per partition that reached ClickHouse.

Every message the worker handles leaves a row keyed by its (partition, offset): an event-log
row when it was projected, a dead letter when it was rejected. So "projections include
everything I produced" is: for every partition, the highest offset seen in those two tables
is at least the highest offset the producer had confirmed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from civicloop.projections import dead_letters, event_log

Run = Callable[[str], list[tuple[Any, ...]]]


def projected_offsets(run: Run, database: str, topic: str) -> dict[int, int]:
    rows = run(
        f"SELECT partition, max(offset) FROM ("
        f" SELECT partition, offset FROM {database}.{event_log.TABLE} WHERE topic = '{topic}'"
        f" UNION ALL"
        f" SELECT partition, offset FROM {database}.{dead_letters.TABLE} WHERE topic = '{topic}'"
        f") GROUP BY partition"
    )
    return {int(partition): int(offset) for partition, offset in rows}


def remaining(targets: Mapping[int, int], done: Mapping[int, int]) -> int:
    """Messages not yet projected (upper bound: offsets may have gaps from transactions)."""
    return sum(max(0, offset - done.get(partition, -1)) for partition, offset in targets.items())
