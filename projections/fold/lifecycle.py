"""The case lifecycle as a pure fold: ``fold(state, event) -> state`` or ``IllegalTransition``.

The live Faust path and the bulk replay share this function (docs/DESIGN.md §6). The transition table
is data in ``states.TRANSITIONS``; the rules below are what the table and the guards encode.

* **At-least-once delivery**: an event whose ``event_id`` the case has already folded returns
  the state unchanged — a no-op, not an error — when its body is the first one's.
  **One body per event id**: with another body (``body``: the message's ``body_digest``; the
  state keeps the first one's) it is ``ConflictingDuplicate`` and changes nothing. Every other
  rule applies to new events only.
* **Order of checks**: well-formed → duplicate → not in the future → case exists → same case →
  not voided → the event's own rules (task exists, task status, lead free, …) → the table.
* **Future events**: illegal when ``occurred_at`` is more than ``future_tolerance`` after ``now``.
  Pass the Kafka record timestamp (log-append time) as ``now`` so a replay decides exactly as
  the live path did; ``now=None`` skips the check.
* **Tasks and the lead** (吹哨报到): a dispatch round starts with a ``lead`` task; ``assist``
  tasks join while the lead is live (DISPATCHED / IN_PROGRESS). The case state follows the
  lead: its acceptance → IN_PROGRESS, its disposal → DISPOSED, its return → RETURNED. Assist
  tasks are worked on in parallel without moving the case. A new lead may only be dispatched
  when the current lead is no longer live (returned, disposed or closed).
* **Returns**: a returned task ends for good (a re-dispatch is a new ``task_id``). The case is
  RETURNED until a new lead is dispatched (RETURNED → DISPATCHED).
* **Re-dispatch** is allowed from RETURNED, REOPENED and DISPOSED (e.g. disposal outcome
  ``not_responsible``); the new lead's deadlines become the case's deadlines.
* **Deadlines may be absent** (``TaskDispatched`` v2: null ``accept_by`` / ``dispose_by``, e.g.
  imported history without an SLA): the task is dispatched like any other, it just has no
  deadline to miss. ``dispose_by >= accept_by`` is checked by the SDK only when both are set.
* **Extensions** move the task's ``dispose_by`` later (never earlier) while the task is live;
  ``original_dispose_by`` keeps the deadline set at dispatch (None if there was none). On a
  task without a deadline an extension sets one (any time is "later" than none); it still
  counts as an extension.
* **Escalations** are counted in any open state (REPORTED … REOPENED), never after closure.
* **Checks**: ``CaseChecked`` from DISPOSED. Passed → CHECKED. Failed → IN_PROGRESS, rework +1,
  and the lead task is back to ``accepted``: its disposal no longer stands, it disposes again.
* **Closure** (``CaseClosed``) is allowed from any open state after registration: imported city
  data closes cases straight after dispatch and a real CRM allows administrative closure. Tasks
  still live at closure end with status ``closed``.
* **Feedback** only on a CLOSED case, once per closure. ``CaseReopened`` from CLOSED → REOPENED;
  with reason ``unresolved_feedback`` it needs unresolved feedback since that closure. The
  earlier closure no longer counts (``closed_at`` is cleared); a reopened case is re-dispatched
  or closed again.
* **Voiding** from REPORTED or REGISTERED only; ``duplicate_of`` (another case) is required for
  reason ``duplicate``. Any event after VOIDED is illegal (reason ``case_voided``).
* Event times are not required to be monotonic (imports carry what the city recorded).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from civicloop.projections.fold import guards, rules
from civicloop.projections.fold.casestate import UNKNOWN_BODY, CaseState, event_digest
from civicloop.projections.fold.clock import seconds
from civicloop.projections.fold.effects import EFFECTS
from civicloop.projections.fold.guards import ConflictingDuplicate, IllegalTransition
from civicloop.projections.fold.states import State, transition_key
from civicloop.schemas.event import Event

__all__ = ["ConflictingDuplicate", "IllegalTransition", "fold", "fold_all", "CaseState", "State"]

FUTURE_TOLERANCE = timedelta(minutes=15)

Rule = Callable[[CaseState, Event], None]
Seen = tuple[int, int]  # (event_digest, body_digest) of one folded event


def _task_rule(*statuses: str) -> Rule:
    def rule(state: CaseState, event: Event) -> None:
        task = rules.check_task_dispatched(state, event)
        rules.check_task_status(state, event, task, *statuses)

    return rule


def _extension_rule(state: CaseState, event: Event) -> None:
    _task_rule("dispatched", "accepted")(state, event)
    rules.check_extends_deadline(state, event, state.tasks[event["task_id"]])


EVENT_RULES: dict[str, tuple[Rule, ...]] = {
    "CaseVoided": (rules.check_duplicate_of,),
    "TaskDispatched": (rules.check_new_task, rules.check_lead_free),
    "TaskAccepted": (_task_rule("dispatched"),),
    "CitizenContacted": (_task_rule("dispatched", "accepted", "disposed"),),
    "DeadlineExtended": (_extension_rule,),
    "TaskReturned": (_task_rule("dispatched", "accepted"),),
    "TaskDisposed": (_task_rule("accepted"),),
    "FeedbackReceived": (rules.check_no_feedback_yet,),
    "CaseReopened": (rules.check_reopen_reason,),
}


def fold(
    state: CaseState | None,
    event: Event,
    *,
    now: datetime | None = None,
    future_tolerance: timedelta = FUTURE_TOLERANCE,
    body: int | None = None,
) -> CaseState:
    """The case after ``event``; ``state`` is never modified. ``body`` is the ``body_digest``
    of the message ``event`` was decoded from (None: not known, e.g. a hand-built event)."""
    guards.check_well_formed(state, event)
    digest = event_digest(event.event_id)
    if state is not None and digest in state.seen:
        guards.check_same_body(state, event, state.seen[digest], body)
        return state
    guards.check_not_in_future(state, event, now, future_tolerance)
    first = UNKNOWN_BODY if body is None else body
    if event.type == "CaseReported":
        guards.check_case_not_reported(state, event)
        return _started(event, (digest, first))
    case = guards.check_case_exists(state, event)
    guards.check_same_case(case, event)
    guards.check_not_voided(case, event)
    for rule in EVENT_RULES.get(event.type, ()):
        rule(case, event)
    target = guards.check_transition(case, event, transition_key(case, event))
    return _applied(case, event, target, (digest, first))


def fold_all(events: list[Event], state: CaseState | None = None, **kw: object) -> CaseState:
    """Fold a case's events in order (a convenience for replay and tests)."""
    for event in events:
        state = fold(state, event, **kw)  # type: ignore[arg-type]
    if state is None:
        raise ValueError("fold_all needs at least one event")
    return state


def _applied(old: CaseState, event: Event, target: State, seen: Seen) -> CaseState:
    new = old.clone()
    t = seconds(event.occurred_at)
    EFFECTS[event.type](new, event, t)
    new.state = target
    _count(new, seen, t)
    for task_id, task in new.tasks.items():
        if old.tasks.get(task_id) != task:
            # A task row depends only on the task's own last change, so the live path (small
            # batches) and a rebuild (large ones) write identical rows for it.
            task.version, task.updated_at = new.version, t
    return new


def _started(event: Event, seen: Seen) -> CaseState:
    t = seconds(event.occurred_at)
    loc = event["location"]
    case = CaseState(
        case_id=event.case_id,
        state=State.REPORTED,
        reported_at=t,
        channel=event["channel"],
        category=event["category"],
        priority=event["priority"],
        district=loc.get("district") or "",
        grid_id=loc.get("grid_id") or "",
        lat=loc.get("lat"),
        lon=loc.get("lon"),
    )
    _count(case, seen, t)
    return case


def _count(case: CaseState, seen: Seen, t: int) -> None:
    """One more event folded: ``seen`` its event and body digests, ``t`` its time."""
    case.version += 1
    case.updated_at = max(case.updated_at, t)
    event, body = seen
    case.seen[event] = body
