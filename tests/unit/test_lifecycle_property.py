"""Properties of the fold: any event sequence folds or is rejected with a reason; nothing else."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civicloop.projections.fold.casestate import CaseState
from civicloop.projections.fold.lifecycle import IllegalTransition, fold
from civicloop.projections.tables.rows import case_row, task_rows
from civicloop.schemas.event import Event
from civicloop.schemas.events import new_event
from tests.support import case_events as ev
from tests.support.case_events import at
from tests.support.strategies import events as schema_events
from tests.support.workload import workload

TASKS = st.sampled_from(["T1", "T2", "A1"])
TIMES = st.floats(0, 400).map(at)
BUILDERS = {
    "reported": st.builds(ev.reported, TIMES),
    "registered": st.builds(ev.registered, TIMES),
    "voided": st.builds(
        ev.voided, TIMES, st.sampled_from(["invalid", "duplicate"]), st.sampled_from([None, "C-9", "C-1"])
    ),
    "dispatched": st.builds(
        ev.dispatched, TIMES, TASKS, st.just("roads"), st.sampled_from(["lead", "assist"])
    ),
    "accepted": st.builds(ev.accepted, TIMES, TASKS),
    "contacted": st.builds(ev.contacted, TIMES, TASKS),
    "returned": st.builds(ev.returned, TIMES, TASKS),
    "extended": st.builds(ev.extended, TIMES, TIMES, TASKS),
    "disposed": st.builds(ev.disposed, TIMES, TASKS),
    "escalated": st.builds(ev.escalated, TIMES, st.integers(1, 3)),
    "checked": st.builds(ev.checked, TIMES, st.booleans()),
    "closed": st.builds(ev.closed, TIMES),
    "feedback": st.builds(ev.feedback, TIMES, st.booleans()),
    "reopened": st.builds(ev.reopened, TIMES, st.sampled_from(["unresolved_feedback", "supervisor"])),
}
# biased towards the happy path so sequences get deep, and with repeats (redeliveries)
EVENTS = st.one_of(*BUILDERS.values())
SEQUENCES = st.lists(EVENTS, max_size=30).flatmap(
    lambda evs: st.lists(st.sampled_from(evs), max_size=40) if evs else st.just([])
)


def stdlib_json(state: CaseState) -> bytes:
    """The case-state format as written with the standard library (format 2 added the body
    digests): states stored then must read back, and states written now must hold the same
    document (orjson may spell a float differently, 1e-05 as 0.00001, never with another value)."""
    data = {f.name: getattr(state, f.name) for f in dataclasses.fields(state)}
    data["tasks"] = [dataclasses.asdict(t) for t in state.tasks.values()]
    data["seen"] = sorted(state.seen)
    data["bodies"] = [state.seen[digest] for digest in data["seen"]]  # format 2: body digests
    data["_format"] = 2
    return json.dumps(data, separators=(",", ":")).encode()


def fold_checked(events: list[Event]) -> CaseState | None:
    state = None
    for event in events:
        try:
            new = fold(state, event, now=at(300))
        except IllegalTransition as err:
            assert err.reason and err.message
            continue
        assert state is None or new.version in (state.version, state.version + 1)
        state = new
    return state


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SEQUENCES)
def test_any_sequence_folds_or_is_rejected_with_a_reason(events):
    state = fold_checked(events)
    if state is not None:
        assert CaseState.from_bytes(state.to_bytes()) == state
        assert json.loads(state.to_bytes()) == json.loads(stdlib_json(state)), "the format is unchanged"
        row = case_row(state)
        assert row["version"] == state.version
        assert all(t["version"] <= state.version for t in task_rows(state))


@settings(max_examples=300, deadline=None)
@given(schema_events())
def test_any_schema_valid_event_folds_or_is_rejected(event):
    # given a case with tasks in progress, when any valid event for it arrives
    given_state = fold_checked(
        [ev.reported(at(0)), ev.registered(at(1)), ev.dispatched(at(2)), ev.accepted(at(3))]
    )
    retargeted = Event(event.type, {**event.fields, "case_id": "C-1"})
    try:
        fold(given_state, retargeted, now=at(0) + timedelta(days=3650))
    except IllegalTransition as err:
        assert err.reason


def test_every_generated_workload_history_is_legal():
    for events in workload(3, 400):
        state = None
        for event in events:
            state = fold(state, event)
        assert state is not None


def test_test_builders_produce_events_the_codec_accepts():
    samples = [
        ev.reported(at(0)),
        ev.registered(at(1)),
        ev.voided(at(1), "duplicate", "C-9"),
        ev.dispatched(at(2)),
        ev.accepted(at(3)),
        ev.contacted(at(3)),
        ev.returned(at(3)),
        ev.extended(at(3), at(9)),
        ev.disposed(at(4)),
        ev.escalated(at(4)),
        ev.checked(at(5)),
        ev.closed(at(6)),
        ev.feedback(at(7)),
        ev.reopened(at(8)),
    ]
    for sample in samples:
        fields = {k: v for k, v in sample.fields.items()}
        assert new_event(sample.type, **fields).fields["case_id"] == "C-1"
