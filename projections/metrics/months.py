"""Which months a period's metric queries read: the partitions ``period_spans`` says can hold
a row that counts in the period (``tables/periods.py``, docs/DESIGN.md §7).

``case_lifecycle`` is partitioned by the month of ``reported_at`` and ``case_tasks`` by the
month of ``dispatched_at``. A month is kept when its span — the earliest to the latest time of
any period column of any row version written there — meets the period ``[from, to)``; the others
hold no row the period counts, whatever their cases did later. The kept months become ranges
of the partition column (``reported_at >= … AND reported_at < …``), which both ClickHouse 18.16
and chDB prune by each part's min/max of that column. All time (no bound) reads everything, as
does a deployment made before month partitions (no ``period_spans``: ``civicloop replay``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from civicloop.projections.metrics.scope import Scope
from civicloop.projections.store.base import Query, literal
from civicloop.projections.tables import periods, schema


def pruned(run: Query, db: str, scope: Scope, t_from: datetime | None, t_to: datetime | None) -> Scope:
    """``scope`` reading only the months that can count in ``[t_from, t_to)`` (a series: in
    the span of its periods)."""
    if scope.series:
        t_from = min(start for start, _ in scope.periods)
        t_to = max(end for _, end in scope.periods)
    if t_from is None and t_to is None:
        return scope
    found = run(
        "SELECT count() FROM system.tables WHERE database = %(db)s AND name = %(name)s",
        {"db": db, "name": schema.PERIOD_SPANS},
    )
    if not int(found[0][0]):
        return scope
    return replace(scope, months=keep(run, db, t_from, t_to))


def spans_sql(db: str, t_from: datetime | None, t_to: datetime | None) -> str:
    """Per table, the months whose span meets ``[t_from, t_to)``."""
    meets = []
    if t_from is not None:
        meets.append(f"max(last_at) >= {literal(t_from)}")
    if t_to is not None:
        meets.append(f"min(first_at) < {literal(t_to)}")
    return (
        f"SELECT source, month FROM {db}.{schema.PERIOD_SPANS} GROUP BY source, month "
        f"HAVING {' AND '.join(meets) or '1'} ORDER BY source, month"
    )


def keep(run: Query, db: str, t_from: datetime | None, t_to: datetime | None) -> dict[str, str]:
    """table → the condition on its partition column that keeps the months found."""
    months: dict[str, list[int]] = {table: [] for table in periods.PERIOD_COLUMNS}
    for source, month in run(spans_sql(db, t_from, t_to)):
        if str(source) in months:
            months[str(source)].append(int(month))
    return {table: condition(periods.PERIOD_COLUMNS[table][0], found) for table, found in months.items()}


def condition(column: str, months: list[int]) -> str:
    """SQL: ``column`` falls in one of ``months`` (yyyymm), consecutive months as one range."""
    ranges: list[tuple[int, int]] = []  # [first, after-last) as yyyymm
    for month in sorted(set(months)):
        if ranges and ranges[-1][1] == month:
            ranges[-1] = (ranges[-1][0], _next(month))
        else:
            ranges.append((month, _next(month)))
    if not ranges:
        return "0"
    parts = [
        f"({column} >= {literal(periods.month_start(lo))} AND {column} < {literal(periods.month_start(hi))})"
        for lo, hi in ranges
    ]
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"


def _next(month: int) -> int:
    year, m = divmod(month, 100)
    return (year + 1) * 100 + 1 if m == 12 else month + 1


def blocks(run: Query, db: str) -> dict[tuple[str, int], int]:
    """(table, month) → the highest block number of the month's active parts now: every insert
    into a partition gets a higher one and a merge keeps the highest of its parts, so a month
    holds the same rows as long as this number stays (``rollup.py``, ``settled.py``)."""
    found = run(
        "SELECT table, partition, max(max_block_number) FROM system.parts "
        "WHERE database = %(db)s AND active AND table IN (%(cases)s, %(tasks)s) GROUP BY table, partition",
        {"db": db, "cases": schema.CASE_LIFECYCLE, "tasks": schema.CASE_TASKS},
    )
    return {(str(table), int(str(month).strip("'"))): int(block) for table, month, block in found}
