"""Case states and the transition table — the lifecycle of docs/DESIGN.md §3 as data.

``TRANSITIONS[key][from_state] -> to_state``. The key is the event type, refined where the
payload or the task's role decides the target (see ``transition_key``):

* ``...:assist`` — a task event for a task that is not the case's current lead task. The
  case-level state follows the lead (吹哨报到: the lead department answers for the case), so
  assist events never move the case, they are only allowed while tasks can be worked on.
* ``CaseChecked:passed`` / ``CaseChecked:failed`` — a failed check sends the case back to work.

A pair missing from the table is an illegal transition.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from civicloop.projections.fold.casestate import CaseState
    from civicloop.schemas.event import Event


class State(StrEnum):
    REPORTED = "REPORTED"
    REGISTERED = "REGISTERED"
    DISPATCHED = "DISPATCHED"
    IN_PROGRESS = "IN_PROGRESS"
    RETURNED = "RETURNED"
    DISPOSED = "DISPOSED"
    CHECKED = "CHECKED"  # check passed, awaiting closure (the "CHECKING" box of §3 once passed)
    CLOSED = "CLOSED"
    REOPENED = "REOPENED"
    VOIDED = "VOIDED"


S = State
#: open states after registration: administrative closure is allowed from all of them
POST_REGISTRATION = (S.REGISTERED, S.DISPATCHED, S.IN_PROGRESS, S.RETURNED, S.DISPOSED, S.CHECKED, S.REOPENED)
OPEN = (S.REPORTED, *POST_REGISTRATION)
#: states in which dispatched tasks can still be worked on
WORKING = (S.DISPATCHED, S.IN_PROGRESS, S.RETURNED, S.DISPOSED, S.CHECKED)


def _stay(*states: State) -> dict[State, State]:
    return {s: s for s in states}


def _to(target: State, *states: State) -> dict[State, State]:
    return {s: target for s in states}


TRANSITIONS: dict[str, dict[State, State]] = {
    "CaseRegistered": _to(S.REGISTERED, S.REPORTED),
    "CaseVoided": _to(S.VOIDED, S.REPORTED, S.REGISTERED),
    # a lead task starts a dispatch round; DISPOSED -> DISPATCHED is re-dispatch after a
    # disposal such as "not_responsible"
    "TaskDispatched": _to(S.DISPATCHED, S.REGISTERED, S.RETURNED, S.REOPENED, S.DISPOSED),
    "TaskDispatched:assist": _stay(S.DISPATCHED, S.IN_PROGRESS),
    "TaskAccepted": _to(S.IN_PROGRESS, S.DISPATCHED),
    "TaskAccepted:assist": _stay(*WORKING),
    "CitizenContacted": _stay(*WORKING),
    "DeadlineExtended": _stay(*WORKING),
    "TaskReturned": _to(S.RETURNED, S.DISPATCHED, S.IN_PROGRESS),
    "TaskReturned:assist": _stay(*WORKING),
    "TaskDisposed": _to(S.DISPOSED, S.IN_PROGRESS),
    "TaskDisposed:assist": _stay(S.IN_PROGRESS, S.RETURNED, S.DISPOSED, S.CHECKED),
    "CaseChecked:passed": _to(S.CHECKED, S.DISPOSED),
    "CaseChecked:failed": _to(S.IN_PROGRESS, S.DISPOSED),
    "CaseClosed": _to(S.CLOSED, *POST_REGISTRATION),
    "CaseEscalated": _stay(*OPEN),
    "FeedbackReceived": _stay(S.CLOSED),
    "CaseReopened": _to(S.REOPENED, S.CLOSED),
}

#: task events whose effect on the case depends on whether the task is the lead
ROLE_SPLIT = frozenset({"TaskAccepted", "TaskReturned", "TaskDisposed"})


def transition_key(state: CaseState, event: Event) -> str:
    """The table key for ``event`` applied to ``state``."""
    if event.type == "TaskDispatched":
        return event.type if event["role"] == "lead" else event.type + ":assist"
    if event.type in ROLE_SPLIT:
        return event.type if event["task_id"] == state.lead_task else event.type + ":assist"
    if event.type == "CaseChecked":
        return event.type + (":passed" if event["passed"] else ":failed")
    return event.type
