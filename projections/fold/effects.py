"""What each event does to a (cloned) case state, once the guards have let it through.

Every function takes the clone, the event and its time in whole UTC seconds; the state's
``state`` field is set by the fold from the transition table, never here.
"""

from __future__ import annotations

from collections.abc import Callable

from civicloop.projections.fold.casestate import CaseState, TaskState
from civicloop.projections.fold.clock import optional_seconds, seconds
from civicloop.schemas.event import Event

Effect = Callable[[CaseState, Event, int], None]


def _registered(case: CaseState, ev: Event, t: int) -> None:
    case.registered_at = t
    case.category, case.priority = ev["category"], ev["priority"]
    case.deadline_policy = ev.get("deadline_policy") or ""


def _voided(case: CaseState, ev: Event, t: int) -> None:
    case.voided_at, case.void_reason = t, ev["reason"]
    case.duplicate_of = ev.get("duplicate_of") or ""
    case.routed_to = ev.get("department") or ""


def _dispatched(case: CaseState, ev: Event, t: int) -> None:
    due = optional_seconds(ev.get("dispose_by"))  # None: dispatched without a deadline
    case.tasks[ev["task_id"]] = TaskState(
        task_id=ev["task_id"],
        department=ev["department"],
        role=ev["role"],
        dispatched_at=t,
        accept_by=optional_seconds(ev.get("accept_by")),
        dispose_by=due,
        original_dispose_by=due,
    )
    case.first_dispatched_at = _first(case.first_dispatched_at, t)
    if ev["role"] == "lead":
        case.lead_task = ev["task_id"]


def _accepted(case: CaseState, ev: Event, t: int) -> None:
    task = case.tasks[ev["task_id"]]
    task.status, task.accepted_at = "accepted", t
    case.first_accepted_at = _first(case.first_accepted_at, t)


def _contacted(case: CaseState, ev: Event, t: int) -> None:
    task = case.tasks[ev["task_id"]]
    task.contacted_at = _first(task.contacted_at, t)
    case.first_contacted_at = _first(case.first_contacted_at, t)


def _extended(case: CaseState, ev: Event, t: int) -> None:
    task = case.tasks[ev["task_id"]]
    task.dispose_by = seconds(ev["new_dispose_by"])
    task.extensions += 1
    case.extensions += 1


def _returned(case: CaseState, ev: Event, t: int) -> None:
    task = case.tasks[ev["task_id"]]
    task.status, task.returned_at, task.return_reason = "returned", t, ev["reason"]
    case.returns += 1


def _disposed(case: CaseState, ev: Event, t: int) -> None:
    task = case.tasks[ev["task_id"]]
    task.status, task.disposed_at, task.outcome = "disposed", t, ev["outcome"]
    case.disposals += 1
    if task.task_id == case.lead_task:
        case.disposed_at = t  # the lead's disposal stands for the case


def _checked(case: CaseState, ev: Event, t: int) -> None:
    case.checked_at = t
    lead = case.lead
    if not ev["passed"] and lead is not None:
        # rework: the lead's disposal no longer stands; it must dispose again
        case.rework += 1
        case.disposed_at = lead.disposed_at = None
        lead.status = "accepted"


def _closed(case: CaseState, ev: Event, t: int) -> None:
    case.closed_at, case.closure_reason = t, ev["reason"]
    case.feedback_since_close = False
    for task in case.tasks.values():
        if task.live:
            task.status = "closed"  # administrative closure ends unfinished tasks


def _escalated(case: CaseState, ev: Event, t: int) -> None:
    case.escalations += 1
    case.escalation_level = max(case.escalation_level, int(ev["level"]))


def _feedback(case: CaseState, ev: Event, t: int) -> None:
    case.feedback_at, case.resolved = t, bool(ev["resolved"])
    case.satisfaction = ev["satisfaction"]
    case.feedback_since_close = True


def _reopened(case: CaseState, ev: Event, t: int) -> None:
    case.reopens += 1
    case.closed_at = case.disposed_at = None  # the earlier closure no longer counts


def _first(current: int | None, t: int) -> int:
    return t if current is None else current


EFFECTS: dict[str, Effect] = {
    "CaseRegistered": _registered,
    "CaseVoided": _voided,
    "TaskDispatched": _dispatched,
    "TaskAccepted": _accepted,
    "CitizenContacted": _contacted,
    "DeadlineExtended": _extended,
    "TaskReturned": _returned,
    "TaskDisposed": _disposed,
    "CaseChecked": _checked,
    "CaseClosed": _closed,
    "CaseEscalated": _escalated,
    "FeedbackReceived": _feedback,
    "CaseReopened": _reopened,
}
