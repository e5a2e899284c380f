"""Guards for the rules of single events: tasks, deadlines, voids, feedback, reopening.

Each raises ``IllegalTransition`` with a stable reason code; see ``guards`` for the generic ones.
"""

from __future__ import annotations

from civicloop.projections.fold.casestate import CaseState, TaskState
from civicloop.projections.fold.clock import seconds
from civicloop.projections.fold.guards import IllegalTransition, describe
from civicloop.schemas.event import Event


def check_task_dispatched(state: CaseState, event: Event) -> TaskState:
    task = state.tasks.get(event["task_id"])
    if task is None:
        raise IllegalTransition(
            "task_not_dispatched", f"{describe(event, state)}: no task {event['task_id']!r}"
        )
    return task


def check_task_status(state: CaseState, event: Event, task: TaskState, *allowed: str) -> None:
    if task.status not in allowed:
        raise IllegalTransition(
            f"task_{task.status}",
            f"{describe(event, state)}: task {task.task_id!r} is {task.status}, needs one of {allowed}",
        )


def check_new_task(state: CaseState, event: Event) -> None:
    if event["task_id"] in state.tasks:
        raise IllegalTransition(
            "task_exists", f"{describe(event, state)}: task {event['task_id']!r} was already dispatched"
        )


def check_lead_free(state: CaseState, event: Event) -> None:
    lead = state.lead
    if event["role"] == "lead" and lead is not None and lead.live:
        raise IllegalTransition(
            "lead_task_active", f"{describe(event, state)}: lead task {lead.task_id!r} is still {lead.status}"
        )


def check_extends_deadline(state: CaseState, event: Event, task: TaskState) -> None:
    """The new deadline is later than the one in force; a task dispatched without a deadline
    has none in force, so any ``new_dispose_by`` sets its first one."""
    if task.dispose_by is not None and seconds(event["new_dispose_by"]) <= task.dispose_by:
        raise IllegalTransition(
            "not_an_extension",
            f"{describe(event, state)}: new_dispose_by "
            f"{event['new_dispose_by'].isoformat()} is not after the "
            f"current deadline of task {task.task_id!r}",
        )


def check_duplicate_of(state: CaseState, event: Event) -> None:
    other = event.get("duplicate_of")
    if event["reason"] == "duplicate" and (not other or other == state.case_id):
        raise IllegalTransition(
            "duplicate_of_missing",
            f"{describe(event, state)}: a duplicate needs duplicate_of naming another case, got {other!r}",
        )


def check_no_feedback_yet(state: CaseState, event: Event) -> None:
    if state.feedback_since_close:
        raise IllegalTransition(
            "feedback_exists", f"{describe(event, state)}: this closure already has feedback"
        )


def check_reopen_reason(state: CaseState, event: Event) -> None:
    unresolved = state.feedback_since_close and state.resolved is False
    if event["reason"] == "unresolved_feedback" and not unresolved:
        raise IllegalTransition(
            "no_unresolved_feedback",
            f"{describe(event, state)}: no unresolved feedback since the case was closed",
        )
