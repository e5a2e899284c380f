"""The two tables the fold fills, ``case_lifecycle`` and ``case_tasks``: each column declared
once, with its type and how the row builder (``rows.py``) fills it from a folded case.

Both are ``ReplacingMergeTree(version)``: ``version`` is the number of events folded into the
case (tasks: the case version at the task's last change), so writing the rows of a state again
— a retried batch, a replay — changes nothing. ClickHouse 18.16-compatible: second-precision
``DateTime('UTC')``, Nullable for times not reached yet, plain String dimensions ('' when
absent) so metrics group without NULL handling.

``due_at`` of a case is the ``dispose_by`` in force (after extensions) of its current lead
task: the most recently dispatched lead, kept after it is returned or closed so a bounced case
keeps a deadline until a new lead is dispatched. "Closed on time" means ``closed_at <= due_at``.
A lead dispatched without a deadline (TaskDispatched v2) gives ``due_at`` / ``accept_by`` NULL,
as do the task row's ``accept_by`` / ``dispose_by`` / ``original_dispose_by``: no deadline,
never due nor overdue (see ``metrics``). Working-time durations (``*_ws``) use the policy's
calendar.
"""

from __future__ import annotations

from collections.abc import Callable

from civicloop.projections.fold.calendar import Calendar, working_seconds
from civicloop.projections.fold.casestate import CaseState, TaskState
from civicloop.projections.fold.clock import moment
from civicloop.projections.tables.table import MAYBE_TIME, STRING, TIME, Column, Table

#: a case_lifecycle value of a folded case; a case_tasks value of one task of a folded case
CaseFill = Callable[[CaseState, Calendar], object]
TaskFill = Callable[[CaseState, TaskState, Calendar], object]
CaseColumn = Column[CaseFill]
TaskColumn = Column[TaskFill]
U8, U16, U64 = "UInt8", "UInt16", "UInt64"
#: the case's dimensions, which each task row repeats so task metrics group without a join
CASE_DIMENSIONS = ("category", "priority", "channel", "district", "grid_id")
MAYBE_SECONDS = "Nullable(Int64)"


def ws(start: int | None, end: int | None, cal: Calendar) -> int | None:
    """Working seconds from ``start`` to ``end`` (None until both happened)."""
    if start is None or end is None:
        return None
    return working_seconds(start, end, cal)


# One row per case: its latest folded state (read with FINAL). Partitioned by the month of the
# report, which never changes, so every version of a case is in one partition (FINAL within
# partitions is exact) and a period's query reads only the months period_spans names.
# lead_department of a case voided before any dispatch is the department it had been routed
# to (CaseVoided v2).
LIFECYCLE: Table[CaseFill] = Table(
    "case_lifecycle",
    (
        CaseColumn("case_id", STRING, lambda c, _: c.case_id),
        CaseColumn("state", STRING, lambda c, _: str(c.state)),
        CaseColumn("category", STRING, lambda c, _: c.category),
        CaseColumn("priority", STRING, lambda c, _: c.priority),
        CaseColumn("channel", STRING, lambda c, _: c.channel),
        CaseColumn("district", STRING, lambda c, _: c.district),
        CaseColumn("grid_id", STRING, lambda c, _: c.grid_id),
        CaseColumn("lat", "Nullable(Float64)", lambda c, _: c.lat),
        CaseColumn("lon", "Nullable(Float64)", lambda c, _: c.lon),
        # No lead: a case voided before dispatch counts under the department it was routed to.
        CaseColumn("lead_department", STRING, lambda c, _: c.lead.department if c.lead else c.routed_to),
        CaseColumn("lead_task_id", STRING, lambda c, _: c.lead_task or ""),
        CaseColumn("reported_at", TIME, lambda c, _: moment(c.reported_at)),
        CaseColumn("registered_at", MAYBE_TIME, lambda c, _: moment(c.registered_at)),
        CaseColumn("first_dispatched_at", MAYBE_TIME, lambda c, _: moment(c.first_dispatched_at)),
        CaseColumn("first_accepted_at", MAYBE_TIME, lambda c, _: moment(c.first_accepted_at)),
        CaseColumn("first_contacted_at", MAYBE_TIME, lambda c, _: moment(c.first_contacted_at)),
        CaseColumn("disposed_at", MAYBE_TIME, lambda c, _: moment(c.disposed_at)),
        CaseColumn("checked_at", MAYBE_TIME, lambda c, _: moment(c.checked_at)),
        CaseColumn("closed_at", MAYBE_TIME, lambda c, _: moment(c.closed_at)),
        CaseColumn("voided_at", MAYBE_TIME, lambda c, _: moment(c.voided_at)),
        CaseColumn("feedback_at", MAYBE_TIME, lambda c, _: moment(c.feedback_at)),
        CaseColumn("closure_reason", STRING, lambda c, _: c.closure_reason),
        CaseColumn("void_reason", STRING, lambda c, _: c.void_reason),
        CaseColumn("duplicate_of", STRING, lambda c, _: c.duplicate_of),
        # NULL for a case with no lead task, or whose lead was dispatched without that deadline
        CaseColumn("due_at", MAYBE_TIME, lambda c, _: moment(c.lead.dispose_by if c.lead else None)),
        CaseColumn("accept_by", MAYBE_TIME, lambda c, _: moment(c.lead.accept_by if c.lead else None)),
        CaseColumn("tasks", U16, lambda c, _: len(c.tasks)),
        CaseColumn("returns", U16, lambda c, _: c.returns),
        CaseColumn("extensions", U16, lambda c, _: c.extensions),
        CaseColumn("escalations", U16, lambda c, _: c.escalations),
        CaseColumn("escalation_level", U8, lambda c, _: c.escalation_level),
        CaseColumn("disposals", U16, lambda c, _: c.disposals),
        CaseColumn("rework", U16, lambda c, _: c.rework),
        CaseColumn("reopens", U16, lambda c, _: c.reopens),
        CaseColumn(
            "resolved", "Nullable(UInt8)", lambda c, _: None if c.resolved is None else int(c.resolved)
        ),
        CaseColumn("satisfaction", STRING, lambda c, _: c.satisfaction),
        CaseColumn(
            "report_to_register_ws", MAYBE_SECONDS, lambda c, cal: ws(c.reported_at, c.registered_at, cal)
        ),
        CaseColumn(
            "register_to_dispatch_ws",
            MAYBE_SECONDS,
            lambda c, cal: ws(c.registered_at, c.first_dispatched_at, cal),
        ),
        CaseColumn("report_to_close_ws", MAYBE_SECONDS, lambda c, cal: ws(c.reported_at, c.closed_at, cal)),
        CaseColumn("version", U64, lambda c, _: c.version),
        CaseColumn("updated_at", TIME, lambda c, _: moment(c.updated_at)),
    ),
    version="version",
    order_by=("case_id",),
    partition_by="toYYYYMM(reported_at)",
)

# One row per task (department assignment) of a case, latest version wins (read with FINAL).
# Partitioned by the month of dispatch, which never changes (a re-dispatch is a new task).
# Carries the case's dimensions so task metrics group without a join (all fixed by dispatch).
# Deadlines are Nullable: NULL = dispatched without one (TaskDispatched v2), never overdue and
# outside the response rate. Tables created before that are converted by ``schema.upgrades``
# (``schema.NULLABLE_SINCE``).
TASKS: Table[TaskFill] = Table(
    "case_tasks",
    (
        TaskColumn("case_id", STRING, lambda c, t, _: c.case_id),
        TaskColumn("task_id", STRING, lambda c, t, _: t.task_id),
        TaskColumn("department", STRING, lambda c, t, _: t.department),
        TaskColumn("role", STRING, lambda c, t, _: t.role),
        TaskColumn("status", STRING, lambda c, t, _: t.status),
        TaskColumn("category", STRING, lambda c, t, _: c.category),
        TaskColumn("priority", STRING, lambda c, t, _: c.priority),
        TaskColumn("channel", STRING, lambda c, t, _: c.channel),
        TaskColumn("district", STRING, lambda c, t, _: c.district),
        TaskColumn("grid_id", STRING, lambda c, t, _: c.grid_id),
        TaskColumn("dispatched_at", TIME, lambda c, t, _: moment(t.dispatched_at)),
        TaskColumn("accept_by", MAYBE_TIME, lambda c, t, _: moment(t.accept_by)),
        TaskColumn("dispose_by", MAYBE_TIME, lambda c, t, _: moment(t.dispose_by)),
        TaskColumn("original_dispose_by", MAYBE_TIME, lambda c, t, _: moment(t.original_dispose_by)),
        TaskColumn("accepted_at", MAYBE_TIME, lambda c, t, _: moment(t.accepted_at)),
        TaskColumn("contacted_at", MAYBE_TIME, lambda c, t, _: moment(t.contacted_at)),
        TaskColumn("returned_at", MAYBE_TIME, lambda c, t, _: moment(t.returned_at)),
        TaskColumn("disposed_at", MAYBE_TIME, lambda c, t, _: moment(t.disposed_at)),
        TaskColumn("return_reason", STRING, lambda c, t, _: t.return_reason),
        TaskColumn("outcome", STRING, lambda c, t, _: t.outcome),
        TaskColumn("extensions", U16, lambda c, t, _: t.extensions),
        TaskColumn(
            "dispatch_to_accept_ws", MAYBE_SECONDS, lambda c, t, cal: ws(t.dispatched_at, t.accepted_at, cal)
        ),
        TaskColumn(
            "dispatch_to_dispose_ws", MAYBE_SECONDS, lambda c, t, cal: ws(t.dispatched_at, t.disposed_at, cal)
        ),
        TaskColumn("version", U64, lambda c, t, _: t.version),
        TaskColumn("updated_at", TIME, lambda c, t, _: moment(t.updated_at)),
    ),
    version="version",
    order_by=("case_id", "task_id"),
    partition_by="toYYYYMM(dispatched_at)",
)
