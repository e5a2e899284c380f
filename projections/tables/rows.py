"""Rows for ``case_lifecycle`` and ``case_tasks`` from a folded case.

Both tables are ``ReplacingMergeTree(version)``: ``version`` is the number of events folded
into the case (tasks: the case version at the task's last change), so writing the rows of a
state again — a retried batch, a replay — changes nothing.

``due_at`` of a case is the ``dispose_by`` in force (after extensions) of its current lead
task: the most recently dispatched lead, kept after it is returned or closed so a bounced
case keeps a deadline until a new lead is dispatched. "Closed on time" means
``closed_at <= due_at``. A lead dispatched without a deadline (TaskDispatched v2) gives
``due_at`` / ``accept_by`` NULL, as do the task row's ``accept_by`` / ``dispose_by`` /
``original_dispose_by``: no deadline, never due nor overdue (see ``metrics``).
Working-time durations (``*_ws``) use the policy's calendar.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from civicloop.projections.fold.calendar import Calendar, working_seconds
from civicloop.projections.fold.casestate import CaseState, TaskState
from civicloop.projections.fold.clock import moment
from civicloop.projections.fold.policy import default_policy


def case_row(case: CaseState, calendar: Calendar | None = None) -> dict[str, Any]:
    cal = calendar or default_policy().calendar
    lead = case.lead
    return {
        "case_id": case.case_id,
        "state": str(case.state),
        "category": case.category,
        "priority": case.priority,
        "channel": case.channel,
        "district": case.district,
        "grid_id": case.grid_id,
        "lat": case.lat,
        "lon": case.lon,
        # No lead: a case voided before dispatch counts under the department it was routed to.
        "lead_department": lead.department if lead else case.routed_to,
        "lead_task_id": case.lead_task or "",
        **_times(
            case,
            "reported_at",
            "registered_at",
            "first_dispatched_at",
            "first_accepted_at",
            "first_contacted_at",
            "disposed_at",
            "checked_at",
            "closed_at",
            "voided_at",
            "feedback_at",
        ),
        "closure_reason": case.closure_reason,
        "void_reason": case.void_reason,
        "duplicate_of": case.duplicate_of,
        "due_at": moment(lead.dispose_by if lead else None),
        "accept_by": moment(lead.accept_by if lead else None),
        "tasks": len(case.tasks),
        "returns": case.returns,
        "extensions": case.extensions,
        "escalations": case.escalations,
        "escalation_level": case.escalation_level,
        "disposals": case.disposals,
        "rework": case.rework,
        "reopens": case.reopens,
        "resolved": None if case.resolved is None else int(case.resolved),
        "satisfaction": case.satisfaction,
        "report_to_register_ws": _ws(case.reported_at, case.registered_at, cal),
        "register_to_dispatch_ws": _ws(case.registered_at, case.first_dispatched_at, cal),
        "report_to_close_ws": _ws(case.reported_at, case.closed_at, cal),
        "version": case.version,
        "updated_at": moment(case.updated_at),
    }


def task_rows(
    case: CaseState, since_version: int = 0, calendar: Calendar | None = None
) -> list[dict[str, Any]]:
    """One row per task changed after ``since_version`` (0: every task)."""
    cal = calendar or default_policy().calendar
    return [_task_row(case, t, cal) for t in case.tasks.values() if t.version > since_version]


def _task_row(case: CaseState, task: TaskState, cal: Calendar) -> dict[str, Any]:
    return {
        "case_id": case.case_id,
        "task_id": task.task_id,
        "department": task.department,
        "role": task.role,
        "status": task.status,
        # the case's dimensions, so task metrics group without a join (all fixed by dispatch)
        "category": case.category,
        "priority": case.priority,
        "channel": case.channel,
        "district": case.district,
        "grid_id": case.grid_id,
        **_times(
            task,
            "dispatched_at",
            "accept_by",
            "dispose_by",
            "original_dispose_by",
            "accepted_at",
            "contacted_at",
            "returned_at",
            "disposed_at",
        ),
        "return_reason": task.return_reason,
        "outcome": task.outcome,
        "extensions": task.extensions,
        "dispatch_to_accept_ws": _ws(task.dispatched_at, task.accepted_at, cal),
        "dispatch_to_dispose_ws": _ws(task.dispatched_at, task.disposed_at, cal),
        "version": task.version,
        "updated_at": moment(task.updated_at),
    }


def _times(obj: CaseState | TaskState, *names: str) -> dict[str, datetime | None]:
    return {name: moment(getattr(obj, name)) for name in names}


def _ws(start: int | None, end: int | None, cal: Calendar) -> int | None:
    if start is None or end is None:
        return None
    return working_seconds(start, end, cal)
