"""Small named guards: each checks one rule and raises ``IllegalTransition`` saying why.

The worker sends an event that fails a guard to the dead-letter topic with ``reason`` (a
stable code operators count by) and the message (which names the case, event and state).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from civicloop.projections.fold.casestate import UNKNOWN_BODY, CaseState, shown_digest
from civicloop.projections.fold.states import TRANSITIONS, State
from civicloop.schemas.event import Event
from civicloop.schemas.events import EVENT_TYPES
from civicloop.schemas.registry import required_fields, time_fields

#: per event type: the fields that may never be null and the timestamp fields, both derived
#: from the latest ``.avsc`` (the codec guarantees them for decoded events; hand-built events
#: are checked so a bad one is rejected, never a crash). A ``TaskDispatched``'s ``accept_by`` /
#: ``dispose_by`` may be null since v2 (no deadline set); when present they are UTC times.
#: Signals are another contract (docs/SIGNALS.md): the fold knows case events only.
_CHECKED = {t: required_fields(t) for t in EVENT_TYPES}
_TIMES = {t: time_fields(t) for t in EVENT_TYPES}


class IllegalTransition(ValueError):
    """An event that must not be applied to the case as it stands."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message

    @property
    def dead_letter(self) -> str:
        """The reason the worker dead-letters the event with."""
        return f"illegal:{self.reason}"


class ConflictingDuplicate(IllegalTransition):
    """A message reusing an event id the case has folded, with another body: the first body
    stands (docs/DESIGN.md §6), this one changes nothing and is dead-lettered as such."""

    def __init__(self, message: str) -> None:
        super().__init__("conflicting_duplicate", message)

    @property
    def dead_letter(self) -> str:
        return self.reason


def describe(event: Event, state: CaseState | None) -> str:
    where = f"in state {state.state}" if state else "for a case never reported"
    ids = f"{event.fields.get('event_id')!r} of case {event.fields.get('case_id')!r}"
    return f"{event.type} {ids} {where}"


def check_well_formed(state: CaseState | None, event: Event) -> None:
    names = _CHECKED.get(event.type)
    if names is None:
        raise IllegalTransition("unknown_event_type", describe(event, state))
    values = event.fields
    # Plain loops with an early exit: the fold checks every event, and decoded ones all pass.
    for name in names:
        if values.get(name) is None:
            break
    else:
        for name in _TIMES[event.type]:
            value = values.get(name)
            if value is not None and not _is_utc_time(value):
                break
        else:
            return
    missing = [n for n in names if values.get(n) is None]
    bad = [n for n in _TIMES[event.type] if (v := values.get(n)) is not None and not _is_utc_time(v)]
    raise IllegalTransition(
        "malformed_event", f"{describe(event, state)}: missing {missing}, bad times {bad}"
    )


def _is_utc_time(value: object) -> bool:
    # Decoded events carry UTC itself (checked first: cheap); hand-built ones any aware time.
    return isinstance(value, datetime) and (value.tzinfo is UTC or value.utcoffset() is not None)


def check_same_body(state: CaseState, event: Event, first: int, body: int | None) -> None:
    """An event id the case has folded comes again: a redelivery when its body is the first
    one's (``first``, ``body``: ``body_digest`` of each). An unknown digest — the event came
    without its bytes (a hand-built event), or was folded before digests were kept — cannot
    tell, and is taken as a redelivery: either way nothing is written (docs/DESIGN.md §6)."""
    if body is None or first == UNKNOWN_BODY or body == first:
        return
    raise ConflictingDuplicate(
        f"{describe(event, state)}: event id already folded with another body "
        f"(first body {shown_digest(first)}, this body {shown_digest(body)}); the first stands"
    )


def check_not_in_future(
    state: CaseState | None, event: Event, now: datetime | None, tolerance: timedelta
) -> None:
    if now is not None and event.occurred_at > now + tolerance:
        raise IllegalTransition(
            "future_event",
            f"{describe(event, state)}: occurred_at "
            f"{event.occurred_at.isoformat()} is after {now.isoformat()} "
            f"+ {tolerance}",
        )


def check_case_exists(state: CaseState | None, event: Event) -> CaseState:
    if state is None:
        raise IllegalTransition("case_not_reported", describe(event, state))
    return state


def check_case_not_reported(state: CaseState | None, event: Event) -> None:
    if state is not None:
        raise IllegalTransition("case_already_reported", describe(event, state))


def check_same_case(state: CaseState, event: Event) -> None:
    if event.case_id != state.case_id:
        raise IllegalTransition("wrong_case", f"{describe(event, state)}: state is of case {state.case_id!r}")


def check_not_voided(state: CaseState, event: Event) -> None:
    if state.state == State.VOIDED:
        raise IllegalTransition("case_voided", describe(event, state))


def check_transition(state: CaseState, event: Event, key: str) -> State:
    target = TRANSITIONS.get(key, {}).get(State(state.state))
    if target is None:
        raise IllegalTransition("illegal_transition", f"{describe(event, state)} ({key})")
    return target
