"""Which partition months a period's metrics must read (``period_spans``, docs/DESIGN.md §7).

``case_lifecycle`` is partitioned by the month of ``reported_at`` and ``case_tasks`` by the
month of ``dispatched_at``: both never change, so every version of a row stays in its month.
A case reported in January may still count in June (closed, due or given feedback then), so a
period cannot be mapped to months by the report time alone. Each batch therefore writes, per
table and month it touched, the earliest and latest time of the columns that put a row into a
period (``PERIOD_COLUMNS``; ``metrics/sql.py`` uses no other). Spans only grow, so a month
whose span misses a period holds no row that counts in it — whatever order events came in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from civicloop.projections.tables import schema

#: table → (the column whose month partitions it, the columns whose times put a row in a period)
PERIOD_COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    schema.CASE_LIFECYCLE: (
        "reported_at",
        ("reported_at", "registered_at", "first_dispatched_at", "due_at", "closed_at", "feedback_at"),
    ),
    schema.CASE_TASKS: ("dispatched_at", ("dispatched_at", "accepted_at", "disposed_at")),
}


def month(moment: datetime) -> int:
    """The partition of ``moment``: ``toYYYYMM`` in UTC."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment
    return moment.year * 100 + moment.month


def month_start(yyyymm: int) -> datetime:
    return datetime(yyyymm // 100, yyyymm % 100, 1, tzinfo=UTC)


def spans(table: str, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The ``period_spans`` rows of a batch's ``rows`` of ``table``: one per month."""
    key, columns = PERIOD_COLUMNS[table]
    found: dict[int, tuple[datetime, datetime]] = {}
    for row in rows:
        times = [t for t in (row[c] for c in columns) if t is not None]
        if not times:
            continue
        first, last = min(times), max(times)
        m = month(row[key])
        seen = found.get(m)
        found[m] = (first, last) if seen is None else (min(seen[0], first), max(seen[1], last))
    return [
        {"source": table, "month": m, "first_at": first, "last_at": last}
        for m, (first, last) in sorted(found.items())
    ]
