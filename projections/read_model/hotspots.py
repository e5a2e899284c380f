"""The month's high-frequency problems (每月一题): cases by category and place in one month,
ranked, with the previous month beside them and the recurring-problem signals raised.

Months are local (the city's UTC offset, ``CIVICLOOP_SIGNALS_UTC_OFFSET``); places are
districts or grid cells as in the detectors (``counts.place_sql``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from civicloop.projections.signals.counts import GEO_CELL_DEG, place_sql
from civicloop.projections.store.base import Query
from civicloop.projections.tables.schema import CASE_LIFECYCLE, SIGNALS


def month_bounds(month: str, utc_offset_s: int = 0) -> tuple[datetime, datetime, datetime]:
    """(previous month's start, this month's start, next month's start) in UTC for 'YYYY-MM'."""
    found = re.fullmatch(r"(\d{4})-(\d{2})", month)
    if not found or not 1 <= int(found.group(2)) <= 12:
        raise ValueError(f"month {month!r}: expected YYYY-MM, e.g. 2024-05")
    year, mon = int(found.group(1)), int(found.group(2))
    shift = timedelta(seconds=utc_offset_s)

    def start(y: int, m: int) -> datetime:
        y, m = (y - 1, 12) if m == 0 else (y + 1, 1) if m == 13 else (y, m)
        return datetime(y, m, 1, tzinfo=UTC) - shift

    return start(year, mon - 1), start(year, mon), start(year, mon + 1)


def hotspots(
    query: Query, database: str, month: str, by: str = "grid", limit: int = 20, utc_offset_s: int = 0
) -> list[dict[str, Any]]:
    """The ``limit`` (category, place) pairs with most cases reported in ``month``."""
    previous, start, end = month_bounds(month, utc_offset_s)
    rows = query(
        f"SELECT category, {place_sql(by)} AS place, "
        "countIf(reported_at >= %(start)s) AS cases, countIf(reported_at < %(start)s) AS before "
        f"FROM {database}.{CASE_LIFECYCLE} FINAL "
        "WHERE reported_at >= %(previous)s AND reported_at < %(end)s AND category != '' "
        "GROUP BY category, place HAVING cases > 0 AND place != '' "
        "ORDER BY cases DESC, category, place LIMIT %(limit)s",
        {"previous": previous, "start": start, "end": end, "limit": limit, "geo": GEO_CELL_DEG},
    )
    recurring = _recurring(query, database, start, end) if by == "grid" else {}
    return [
        {
            "rank": n,
            "category": category,
            "place": place,
            "cases": int(cases),
            "previous_month": int(before),
            "change": int(cases) - int(before),
            "trend": _trend(int(cases), int(before)),
            "recurring_signals": recurring.get((category, place), 0),
        }
        for n, (category, place, cases, before) in enumerate(rows, 1)
    ]


def _trend(now: int, before: int) -> str:
    if before == 0:
        return "new"
    change = (now - before) / before
    return f"{change:+.0%}"


def _recurring(query: Query, database: str, start: datetime, end: datetime) -> dict[tuple[str, str], int]:
    rows = query(
        f"SELECT category, place, count() FROM {database}.{SIGNALS} FINAL "
        "WHERE type = 'RecurringProblemDetected' AND occurred_at > %(start)s AND occurred_at <= %(end)s "
        "GROUP BY category, place",
        {"start": start, "end": end},
    )
    return {(str(c), str(p)): int(n) for c, p, n in rows}
