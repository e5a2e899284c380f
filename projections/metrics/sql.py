"""The SQL behind the closed-loop metrics (docs/DESIGN.md §5), for chDB and ClickHouse 18.16 alike.

Only what 18.16 has: ``FINAL``, ``countIf``/``sumIf``, ``quantilesExactIf``, ``multiIf``,
``DateTime('UTC')`` literals. ``quantileExact(level)`` returns the element at index
``min(floor(level * n), n - 1)`` of the sorted values (the upper median for even n); the
Python reference uses the same rule. Period bounds are half-open ``[from, to)``; a missing
bound is open (all time). Every ratio's parts are counted here and divided in Python.
Each query is a list of (name, expression) pairs selected ``AS`` their names (:func:`select`)
and its rows are read back by those names (:func:`named`): adding or moving a measure cannot
shift another's value.
A :class:`~civicloop.projections.metrics.scope.Scope` filters the rows or makes a series of
periods (the dashboard's trends) out of the same queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from civicloop.projections.metrics.scope import WHOLE, Scope
from civicloop.projections.store.base import Params, Query, literal
from civicloop.projections.tables.schema import CASE_LIFECYCLE, CASE_TASKS

CASES, TASKS = CASE_LIFECYCLE, CASE_TASKS
#: the tables the metric queries read
TABLES = (CASES, TASKS)
#: dimension → table → the expression it groups by. Case metrics group by the lead
#: department, task metrics by the task's own department.
DIMENSIONS: dict[str, dict[str, str]] = {
    "department": {CASES: "lead_department", TASKS: "department"},
    "category": {CASES: "category", TASKS: "category"},
    "district": {CASES: "district", TASKS: "district"},
    "grid": {CASES: "grid_id", TASKS: "grid_id"},
    "channel": {CASES: "channel", TASKS: "channel"},
    "priority": {CASES: "priority", TASKS: "priority"},
    "all": {CASES: "''", TASKS: "''"},
}
LEVELS = (0.5, 0.9, 0.99)

#: what a metric query selects: (name, SQL expression) pairs, each selected ``AS`` its name
Measures = Sequence[tuple[str, str]]


@dataclass(frozen=True)
class Named:
    """A query and the names of the columns it returns, in order: its rows are read back by
    name (:func:`named`), so adding or moving a measure cannot shift another's value."""

    sql: str
    names: tuple[str, ...]


def select(columns: Measures, source: str, rest: str = "GROUP BY grp", where: str = "") -> Named:
    """``SELECT expr AS name, … FROM source [WHERE where] rest``, with its column names."""
    selected = ",\n    ".join(f"{expr} AS {name}" for name, expr in columns)
    condition = f"\nWHERE {where}" if where else ""
    return Named(f"\nSELECT {selected}\nFROM {source}{condition}\n{rest}", tuple(n for n, _ in columns))


def named(run: Query, query: Named, params: Params | None = None) -> list[dict[str, Any]]:
    """The rows of ``query``, each as column name → value."""
    return [dict(zip(query.names, row, strict=True)) for row in run(query.sql, params)]


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


def group_expr(dim: str, table: str) -> str:
    if dim not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dim!r}; use one of {sorted(DIMENSIONS)}")
    return DIMENSIONS[dim][table]


def source(scope: Scope, db: str, table: str, period_columns: Sequence[str]) -> str:
    """The FROM clause of a metric query on ``table`` under ``scope``."""
    columns = {dim: group_expr(dim, table) for dim in scope.filters}
    return scope.source(f"{db}.{table}", columns, period_columns)


#: the columns whose times put a case or a task into a period of the metric queries
CASE_PERIOD_COLUMNS = ("reported_at", "closed_at", "due_at", "registered_at", "feedback_at")
TASK_PERIOD_COLUMNS = ("dispatched_at",)


def case_measures(t_from: Bound, t_to: Bound, as_of: datetime | str | None) -> list[tuple[str, str]]:
    """The case-level counts and the report→close quantiles over ``[t_from, t_to)``, by name
    (``as_of`` decides "open and overdue"; None leaves ``open_overdue`` out, for counts that
    must not depend on the moment they are read: ``rollup.py``)."""
    due = within("due_at", t_from, t_to)
    reg, fb = within("registered_at", t_from, t_to), within("feedback_at", t_from, t_to)
    closed = within("closed_at", t_from, t_to)
    done = f"{due} AND closed_at IS NOT NULL"
    satisfied = "satisfaction IN ('satisfied', 'basically_satisfied')"
    measures = [
        ("reported", f"countIf({cond(within('reported_at', t_from, t_to))})"),
        ("closed", f"countIf({cond(closed)})"),
        ("due", f"countIf({cond(due)})"),
        ("due_closed", f"countIf({cond(done)})"),
        ("closed_on_time", f"countIf({cond(done + ' AND closed_at <= due_at')})"),
    ]
    if as_of is not None:
        overdue = f"{due} AND closed_at IS NULL AND voided_at IS NULL AND due_at < {at(as_of)}"
        measures.append(("open_overdue", f"countIf({cond(overdue)})"))
    return measures + [
        ("registered", f"countIf({cond(reg)})"),
        ("extensions", f"sumIf(extensions, {cond(reg)})"),
        ("disposals", f"sumIf(disposals, {cond(reg)})"),
        ("rework", f"sumIf(rework, {cond(reg)})"),
        ("feedback", f"countIf({cond(fb)})"),
        ("resolved", f"countIf({cond(fb + ' AND resolved = 1')})"),
        ("satisfied", f"countIf({cond(f'{fb} AND {satisfied}')})"),
        ("report_to_close", quantiles("0.5, 0.9", elapsed("reported_at", "closed_at"), closed)),
    ]


def case_metrics_sql(
    db: str,
    dim: str,
    t_from: datetime | None,
    t_to: datetime | None,
    as_of: datetime | None,
    scope: Scope = WHOLE,
    only: Sequence[str] = (),
) -> Named:
    """Case-level counts per group. ``as_of`` = min(to, now) decides "open and overdue" (None:
    no ``open_overdue``); ``only``: just these measures (all by default)."""
    t_from, t_to, as_of = scope.bounds(t_from, t_to, as_of)
    measures = [m for m in case_measures(t_from, t_to, as_of) if not only or m[0] in only]
    return select(
        [("grp", scope.group(group_expr(dim, CASES))), *measures],
        source(scope, db, CASES, CASE_PERIOD_COLUMNS),
    )


def task_measures(t_from: Bound, t_to: Bound) -> list[tuple[str, str]]:
    """The task-level counts over the tasks dispatched in ``[t_from, t_to)``, by name.

    The response rate counts **lead** tasks only (contacting the reporter is the lead's duty,
    docs/DESIGN.md §5); the assist sign-for rate counts assist tasks accepted by their
    accept-by (吹哨报到: did the called department report in time?). A task with a NULL
    ``accept_by`` (no deadline set) is dispatched but in neither rate."""
    disp = within("dispatched_at", t_from, t_to)
    lead = f"{disp} AND role = 'lead' AND accept_by IS NOT NULL"
    assist = f"{disp} AND role = 'assist' AND accept_by IS NOT NULL"
    accepted = "accepted_at IS NOT NULL AND accepted_at <= accept_by"
    contacted = "contacted_at IS NOT NULL AND contacted_at <= accept_by"
    return [
        ("dispatched", f"countIf({cond(disp)})"),
        ("lead_with_accept_by", f"countIf({cond(lead)})"),
        ("responded", f"countIf({cond(f'{lead} AND {accepted} AND {contacted}')})"),
        ("assist_with_accept_by", f"countIf({cond(assist)})"),
        ("assist_signed_for", f"countIf({cond(f'{assist} AND {accepted}')})"),
        ("returned", f"countIf({cond(disp + ' AND returned_at IS NOT NULL')})"),
    ]


def task_metrics_sql(
    db: str, dim: str, t_from: datetime | None, t_to: datetime | None, scope: Scope = WHOLE
) -> Named:
    """Task-level counts per group: the cohort is tasks dispatched in the period
    (``task_measures``)."""
    t_from, t_to, _ = scope.bounds(t_from, t_to)
    return select(
        [("grp", scope.group(group_expr(dim, TASKS))), *task_measures(t_from, t_to)],
        source(scope, db, TASKS, TASK_PERIOD_COLUMNS),
    )


#: duration → (table, start column, end column, working-seconds column); a duration is counted
#: in the period in which it ended
DURATIONS: dict[str, tuple[str, str, str, str]] = {
    "report_to_register": (CASES, "reported_at", "registered_at", "report_to_register_ws"),
    "register_to_dispatch": (CASES, "registered_at", "first_dispatched_at", "register_to_dispatch_ws"),
    "report_to_close": (CASES, "reported_at", "closed_at", "report_to_close_ws"),
    "dispatch_to_accept": (TASKS, "dispatched_at", "accepted_at", "dispatch_to_accept_ws"),
    "dispatch_to_dispose": (TASKS, "dispatched_at", "disposed_at", "dispatch_to_dispose_ws"),
}


def durations_of(table: str) -> list[str]:
    """The durations measured on ``table``, in ``DURATIONS`` order."""
    return [name for name, (on, *_) in DURATIONS.items() if on == table]


def durations_sql(
    db: str, dim: str, table: str, t_from: datetime | None, t_to: datetime | None, scope: Scope = WHOLE
) -> Named:
    """Per group, for each duration on ``table`` (``durations_of``): ``n_<duration>`` and
    ``wall_<duration>`` / ``working_<duration>``, the p50/p90/p99 of wall-clock and working
    seconds. One pass over the table for all of them."""
    t_from, t_to, _ = scope.bounds(t_from, t_to)
    levels = ", ".join(str(level) for level in LEVELS)
    measures, ends = [("grp", scope.group(group_expr(dim, table)))], []
    for name in durations_of(table):
        _, start, end, working = DURATIONS[name]
        done = f"{within(end, t_from, t_to)} AND {start} IS NOT NULL"
        measures += [
            (f"n_{name}", f"countIf({cond(done)})"),
            (f"wall_{name}", quantiles(levels, elapsed(start, end), done)),
            (f"working_{name}", quantiles(levels, working, f"{done} AND {working} IS NOT NULL")),
        ]
        ends.append(end)
    return select(measures, source(scope, db, table, ends))


AGE_BUCKETS = (
    (86400, "<1d"),
    (3 * 86400, "1-3d"),
    (7 * 86400, "3-7d"),
    (15 * 86400, "7-15d"),
    (30 * 86400, "15-30d"),
)


def backlog_sql(db: str, dim: str, as_of: datetime, scope: Scope = WHOLE) -> Named:
    """Open cases as of ``as_of`` by age bucket and overdue state (``scope``: filters only).

    Exact for ``as_of`` = now. For a past moment it is rebuilt from the current rows (reported
    by then, not voided or closed by then), so a case closed then and reopened later is missed.
    """
    if scope.series:
        raise ValueError("the backlog is as of one moment: a series of periods does not apply")
    t = at(as_of)
    age = elapsed("reported_at", t)
    buckets = ", ".join(f"{age} < {limit}, '{label}'" for limit, label in AGE_BUCKETS)
    columns = [
        ("grp", group_expr(dim, CASES)),
        ("age_bucket", f"multiIf({buckets}, '>=30d')"),
        ("overdue", f"toUInt8({cond(f'due_at IS NOT NULL AND due_at < {t}')})"),
        ("cases", "count()"),
    ]
    where = (
        f"reported_at <= {t} AND {cond(f'voided_at IS NULL OR voided_at > {t}')}\n"
        f"    AND {cond(f'closed_at IS NULL OR closed_at > {t}')}"
    )
    rest = "GROUP BY grp, age_bucket, overdue\nORDER BY grp, age_bucket, overdue"
    return select(columns, source(scope, db, CASES, ()), rest, where)
