"""The case lifecycle fold: every legal transition of the table, the illegal rest, the rules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from civicloop.projections.fold.casestate import CaseState
from civicloop.projections.fold.lifecycle import IllegalTransition, fold, fold_all
from civicloop.projections.fold.states import TRANSITIONS, State
from civicloop.schemas.event import Event
from tests.support import case_events as ev
from tests.support.case_events import at

S = State


def history(state: State) -> list[Event]:
    """Events that bring case C-1 to ``state``; from DISPATCHED on, assist task A1 is
    dispatched (not yet accepted) next to lead task T1."""
    base = [ev.reported(at(0)), ev.registered(at(1))]
    working = [*base, ev.dispatched(at(2)), ev.dispatched(at(2), "A1", "water", "assist")]
    closed = [*working, ev.accepted(at(3)), ev.disposed(at(4)), ev.checked(at(5)), ev.closed(at(6))]
    paths = {
        S.REPORTED: base[:1],
        S.REGISTERED: base,
        S.VOIDED: [*base[:1], ev.voided(at(1))],
        S.DISPATCHED: working,
        S.IN_PROGRESS: [*working, ev.accepted(at(3))],
        S.RETURNED: [*working, ev.returned(at(3))],
        S.DISPOSED: closed[:-2],
        S.CHECKED: closed[:-1],
        S.CLOSED: closed,
        S.REOPENED: [*closed, ev.feedback(at(7), resolved=False), ev.reopened(at(8))],
    }
    return paths[state]


WHEN: dict[str, Callable[[], list[Event]]] = {
    "CaseRegistered": lambda: [ev.registered(at(20))],
    "CaseVoided": lambda: [ev.voided(at(20))],
    "TaskDispatched": lambda: [ev.dispatched(at(20), "T9")],
    "TaskDispatched:assist": lambda: [ev.dispatched(at(20), "T9", "parks", "assist")],
    "TaskAccepted": lambda: [ev.accepted(at(20))],
    "TaskAccepted:assist": lambda: [ev.accepted(at(20), "A1")],
    "CitizenContacted": lambda: [ev.contacted(at(20), "A1")],
    "DeadlineExtended": lambda: [ev.extended(at(20), at(500), "A1")],
    "TaskReturned": lambda: [ev.returned(at(20))],
    "TaskReturned:assist": lambda: [ev.returned(at(20), "A1")],
    "TaskDisposed": lambda: [ev.disposed(at(20))],
    "TaskDisposed:assist": lambda: [ev.accepted(at(19), "A1"), ev.disposed(at(20), "A1")],
    "CaseChecked:passed": lambda: [ev.checked(at(20), passed=True)],
    "CaseChecked:failed": lambda: [ev.checked(at(20), passed=False)],
    "CaseClosed": lambda: [ev.closed(at(20))],
    "CaseEscalated": lambda: [ev.escalated(at(20))],
    "FeedbackReceived": lambda: [ev.feedback(at(20))],
    "CaseReopened": lambda: [ev.reopened(at(20), reason="supervisor")],
}
LEGAL = [(key, src, dst) for key, table in TRANSITIONS.items() for src, dst in table.items()]
ILLEGAL = [(key, src) for key in TRANSITIONS for src in State if src not in TRANSITIONS[key]]


def test_every_table_key_has_an_example():
    assert set(WHEN) == set(TRANSITIONS)


@pytest.mark.parametrize(("key", "src", "dst"), LEGAL, ids=[f"{k}@{s}" for k, s, _ in LEGAL])
def test_legal_transition(key, src, dst):
    given = fold_all(history(src))
    assert given.state == src
    then = fold_all(WHEN[key](), given)
    assert then.state == dst
    assert then.version == given.version + len(WHEN[key]())


@pytest.mark.parametrize(("key", "src"), ILLEGAL, ids=[f"{k}@{s}" for k, s in ILLEGAL])
def test_illegal_transition(key, src):
    given = fold_all(history(src))
    with pytest.raises(IllegalTransition) as err:
        fold_all(WHEN[key](), given)
    assert err.value.reason
    assert "C-1" in err.value.message
    if src == S.VOIDED:
        assert err.value.reason == "case_voided"


def test_a_case_never_reported_cannot_be_closed():
    with pytest.raises(IllegalTransition, match="case_not_reported"):
        fold(None, ev.closed(at(1)))


def test_a_second_report_of_the_same_case_is_illegal():
    with pytest.raises(IllegalTransition, match="case_already_reported"):
        fold_all([ev.reported(at(0)), ev.reported(at(1))])


def test_an_event_of_another_case_is_illegal():
    with pytest.raises(IllegalTransition, match="wrong_case"):
        fold_all([ev.reported(at(0)), ev.registered(at(1), case_id="C-2")])


def test_accepting_a_task_never_dispatched_is_illegal():
    with pytest.raises(IllegalTransition, match="task_not_dispatched"):
        fold_all([*history(S.DISPATCHED), ev.accepted(at(5), "T7")])


def test_duplicate_delivery_is_a_no_op():
    given = fold_all(history(S.IN_PROGRESS))
    escalation = ev.escalated(at(10))
    once = fold(given, escalation)
    twice = fold(once, escalation)
    assert twice is once
    assert (twice.escalations, twice.version) == (1, given.version + 1)


def test_duplicate_of_an_early_event_is_a_no_op_even_when_it_would_now_be_illegal():
    events = history(S.CLOSED)
    assert fold_all([*events, events[2]]).version == len(events)


def test_fold_never_modifies_the_state_it_is_given():
    given = fold_all(history(S.DISPOSED))
    before = given.to_bytes()
    fold(given, ev.checked(at(10), passed=False))
    assert given.to_bytes() == before


class TestFutureEvents:
    def test_an_event_far_after_now_is_illegal(self):
        with pytest.raises(IllegalTransition, match="future_event"):
            fold(None, ev.reported(at(1)), now=at(0))

    def test_an_event_within_the_tolerance_is_accepted(self):
        assert fold(None, ev.reported(at(0.2)), now=at(0)).state == S.REPORTED

    def test_tolerance_is_configurable_and_no_now_means_no_check(self):
        with pytest.raises(IllegalTransition):
            fold(None, ev.reported(at(0.2)), now=at(0), future_tolerance=timedelta(0))
        assert fold(None, ev.reported(at(1000))).state == S.REPORTED


class TestMalformed:
    def test_unknown_event_type(self):
        with pytest.raises(IllegalTransition, match="unknown_event_type"):
            fold(None, ev.event("CaseTeleported", at(0)))

    def test_missing_field(self):
        broken = ev.event("TaskAccepted", at(5))
        with pytest.raises(IllegalTransition, match="malformed_event"):
            fold(fold_all(history(S.DISPATCHED)), broken)

    def test_naive_timestamp(self):
        naive = ev.reported(at(0).replace(tzinfo=None))
        with pytest.raises(IllegalTransition, match="malformed_event"):
            fold(None, naive)


def test_state_round_trips_through_bytes():
    given = fold_all(
        [
            *history(S.REOPENED),
            ev.dispatched(at(9), "T2"),
            ev.extended(at(10), at(100), "T2"),
            ev.escalated(at(11), level=2),
        ]
    )
    raw = given.to_bytes()
    assert CaseState.from_bytes(raw) == given
    assert len(raw) < 3000


def test_state_of_an_unknown_format_is_refused():
    raw = fold_all(history(S.REPORTED)).to_bytes().replace(b'"_format":2', b'"_format":99')
    with pytest.raises(ValueError, match="rebuild"):
        CaseState.from_bytes(raw)
