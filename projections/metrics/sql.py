"""The SQL behind the closed-loop metrics (docs/DESIGN.md §5), for chDB and ClickHouse 18.16 alike.

Only what 18.16 has: ``FINAL``, ``countIf``/``sumIf``, ``quantilesExactIf``, ``multiIf``,
``DateTime('UTC')`` literals. ``quantileExact(level)`` returns the element at index
``min(floor(level * n), n - 1)`` of the sorted values (the upper median for even n); the
Python reference uses the same rule. Period bounds are half-open ``[from, to)``; a missing
bound is open (all time). Every ratio's parts are counted here and divided in Python.
A :class:`~civicloop.projections.metrics.scope.Scope` filters the rows or makes a series of
periods (the dashboard's trends) out of the same queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from civicloop.projections.metrics.scope import WHOLE, Scope
from civicloop.projections.store.base import literal

#: dimension → (expression on case_lifecycle, expression on case_tasks). Case metrics group
#: by the lead department, task metrics by the task's own department.
DIMENSIONS: dict[str, tuple[str, str]] = {
    "department": ("lead_department", "department"),
    "category": ("category", "category"),
    "district": ("district", "district"),
    "grid": ("grid_id", "grid_id"),
    "channel": ("channel", "channel"),
    "priority": ("priority", "priority"),
    "all": ("''", "''"),
}
LEVELS = (0.5, 0.9, 0.99)


#: a period bound: a moment, or SQL naming one (a series' bound column, ``scope.PERIOD_FROM``)
Bound = datetime | str | None


def at(moment: datetime | str) -> str:
    """A ``DateTime('UTC')`` literal (whole seconds); text is SQL already (a series' bound)."""
    return moment if isinstance(moment, str) else literal(moment)


def within(col: str, t_from: Bound, t_to: Bound) -> str:
    """``col`` is set and falls in ``[t_from, t_to)``."""
    parts = [f"{col} IS NOT NULL"]
    if t_from is not None:
        parts.append(f"{col} >= {at(t_from)}")
    if t_to is not None:
        parts.append(f"{col} < {at(t_to)}")
    return "(" + " AND ".join(parts) + ")"


def cond(expr: str) -> str:
    """A condition that is never NULL: on 18.16 a Nullable condition makes ``countIf`` return
    NULL (not 0) for a group where no row had a non-NULL condition."""
    return f"ifNull({expr}, 0)"


def elapsed(start: str, end: str) -> str:
    """SQL: whole seconds from ``start`` to ``end``."""
    return f"(toInt64({end}) - toInt64({start}))"


def quantiles(levels: str, value: str, condition: str) -> str:
    """``quantilesExactIf`` of ``value`` over the rows where ``condition`` holds; the condition
    must exclude every row where ``value`` is NULL. ``assumeNotNull`` then spares the aggregate
    its NULL wrapper (about a tenth of its time; same values, same ``Array(Int64)`` type)."""
    return f"quantilesExactIf({levels})(assumeNotNull({value}), {cond(condition)})"


def group_expr(dim: str, table: int) -> str:
    if dim not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dim!r}; use one of {sorted(DIMENSIONS)}")
    return DIMENSIONS[dim][table]


def source(scope: Scope, db: str, table: int, period_columns: Sequence[str]) -> str:
    """The FROM clause of a metric query on ``TABLES[table]`` under ``scope``."""
    columns = {dim: group_expr(dim, table) for dim in scope.filters}
    return scope.source(f"{db}.{TABLES[table]}", columns, period_columns)


#: the columns whose times put a case or a task into a period of the metric queries
CASE_PERIOD_COLUMNS = ("reported_at", "closed_at", "due_at", "registered_at", "feedback_at")
TASK_PERIOD_COLUMNS = ("dispatched_at",)


def case_metrics_sql(
    db: str,
    dim: str,
    t_from: datetime | None,
    t_to: datetime | None,
    as_of: datetime,
    scope: Scope = WHOLE,
) -> str:
    """Case-level counts per group. ``as_of`` = min(to, now) decides "open and overdue"."""
    t_from, t_to, as_of = scope.bounds(t_from, t_to, as_of)
    due = within("due_at", t_from, t_to)
    reg, fb = within("registered_at", t_from, t_to), within("feedback_at", t_from, t_to)
    closed = within("closed_at", t_from, t_to)
    done = f"{due} AND closed_at IS NOT NULL"
    overdue = f"{due} AND closed_at IS NULL AND voided_at IS NULL AND due_at < {at(as_of)}"
    return f"""
SELECT {scope.group(group_expr(dim, 0))} AS grp,
    countIf({cond(within("reported_at", t_from, t_to))}) AS reported,
    countIf({cond(closed)}) AS closed,
    countIf({cond(due)}) AS due,
    countIf({cond(done)}) AS due_closed,
    countIf({cond(done + " AND closed_at <= due_at")}) AS closed_on_time,
    countIf({cond(overdue)}) AS open_overdue,
    countIf({cond(reg)}) AS registered,
    sumIf(extensions, {cond(reg)}) AS extensions,
    sumIf(disposals, {cond(reg)}) AS disposals,
    sumIf(rework, {cond(reg)}) AS rework,
    countIf({cond(fb)}) AS feedback,
    countIf({cond(fb + " AND resolved = 1")}) AS resolved,
    countIf({cond(fb + " AND satisfaction IN ('satisfied', 'basically_satisfied')")})
        AS satisfied,
    {quantiles("0.5, 0.9", elapsed("reported_at", "closed_at"), closed)} AS report_to_close
FROM {source(scope, db, 0, CASE_PERIOD_COLUMNS)}
GROUP BY grp"""


def task_metrics_sql(
    db: str, dim: str, t_from: datetime | None, t_to: datetime | None, scope: Scope = WHOLE
) -> str:
    """Task-level counts per group: the cohort is tasks dispatched in the period.

    The response rate counts **lead** tasks only (contacting the reporter is the lead's duty,
    docs/DESIGN.md §5); the assist sign-for rate counts assist tasks accepted by their
    accept-by (吹哨报到: did the called department report in time?). A task with a NULL
    ``accept_by`` (no deadline set) is dispatched but in neither rate."""
    t_from, t_to, _ = scope.bounds(t_from, t_to)
    disp = within("dispatched_at", t_from, t_to)
    lead = f"{disp} AND role = 'lead' AND accept_by IS NOT NULL"
    assist = f"{disp} AND role = 'assist' AND accept_by IS NOT NULL"
    accepted = "accepted_at IS NOT NULL AND accepted_at <= accept_by"
    contacted = "contacted_at IS NOT NULL AND contacted_at <= accept_by"
    return f"""
SELECT {scope.group(group_expr(dim, 1))} AS grp,
    countIf({cond(disp)}) AS dispatched,
    countIf({cond(lead)}) AS lead_with_accept_by,
    countIf({cond(f"{lead} AND {accepted} AND {contacted}")}) AS responded,
    countIf({cond(assist)}) AS assist_with_accept_by,
    countIf({cond(f"{assist} AND {accepted}")}) AS assist_signed_for,
    countIf({cond(disp + " AND returned_at IS NOT NULL")}) AS returned
FROM {source(scope, db, 1, TASK_PERIOD_COLUMNS)}
GROUP BY grp"""


#: duration → (table index, start column, end column, working-seconds column); a duration
#: is counted in the period in which it ended
DURATIONS: dict[str, tuple[int, str, str, str]] = {
    "report_to_register": (0, "reported_at", "registered_at", "report_to_register_ws"),
    "register_to_dispatch": (0, "registered_at", "first_dispatched_at", "register_to_dispatch_ws"),
    "report_to_close": (0, "reported_at", "closed_at", "report_to_close_ws"),
    "dispatch_to_accept": (1, "dispatched_at", "accepted_at", "dispatch_to_accept_ws"),
    "dispatch_to_dispose": (1, "dispatched_at", "disposed_at", "dispatch_to_dispose_ws"),
}
TABLES = ("case_lifecycle", "case_tasks")


def durations_of(table: int) -> list[str]:
    """The durations measured on ``TABLES[table]``, in ``DURATIONS`` order."""
    return [name for name, (on, *_) in DURATIONS.items() if on == table]


def durations_sql(
    db: str, dim: str, table: int, t_from: datetime | None, t_to: datetime | None, scope: Scope = WHOLE
) -> str:
    """Per group, for each duration on ``TABLES[table]`` (``durations_of``) in turn: n and
    p50/p90/p99, wall-clock and working seconds. One pass over the table for all of them."""
    t_from, t_to, _ = scope.bounds(t_from, t_to)
    levels = ", ".join(str(level) for level in LEVELS)
    columns, ends = [], []
    for name in durations_of(table):
        _, start, end, working = DURATIONS[name]
        done = f"{within(end, t_from, t_to)} AND {start} IS NOT NULL"
        columns.append(f"""countIf({cond(done)}) AS n_{name},
    {quantiles(levels, elapsed(start, end), done)} AS wall_{name},
    {quantiles(levels, working, f"{done} AND {working} IS NOT NULL")} AS working_{name}""")
        ends.append(end)
    measures = ",\n    ".join(columns)
    return f"""
SELECT {scope.group(group_expr(dim, table))} AS grp,
    {measures}
FROM {source(scope, db, table, ends)}
GROUP BY grp"""


AGE_BUCKETS = (
    (86400, "<1d"),
    (3 * 86400, "1-3d"),
    (7 * 86400, "3-7d"),
    (15 * 86400, "7-15d"),
    (30 * 86400, "15-30d"),
)


def backlog_sql(db: str, dim: str, as_of: datetime, scope: Scope = WHOLE) -> str:
    """Open cases as of ``as_of`` by age bucket and overdue state (``scope``: filters only).

    Exact for ``as_of`` = now. For a past moment it is rebuilt from the current rows (reported
    by then, not voided or closed by then), so a case closed then and reopened later is missed.
    """
    if scope.series:
        raise ValueError("the backlog is as of one moment: a series of periods does not apply")
    t = at(as_of)
    age = elapsed("reported_at", t)
    buckets = ", ".join(f"{age} < {limit}, '{label}'" for limit, label in AGE_BUCKETS)
    return f"""
SELECT {group_expr(dim, 0)} AS grp,
    multiIf({buckets}, '>=30d') AS age_bucket,
    toUInt8({cond(f"due_at IS NOT NULL AND due_at < {t}")}) AS overdue,
    count() AS cases
FROM {source(scope, db, 0, ())}
WHERE reported_at <= {t} AND {cond(f"voided_at IS NULL OR voided_at > {t}")}
    AND {cond(f"closed_at IS NULL OR closed_at > {t}")}
GROUP BY grp, age_bucket, overdue
ORDER BY grp, age_bucket, overdue"""
