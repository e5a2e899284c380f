"""One body per event id: the fold keeps the first body of every event id it folds; a later
copy with the same body is a redelivery (a no-op), with another body a conflicting duplicate
that changes nothing (docs/DESIGN.md §6)."""

from __future__ import annotations

import orjson
import pytest

from civicloop.projections.fold.casestate import UNKNOWN_BODY, CaseState, body_digest
from civicloop.projections.fold.lifecycle import ConflictingDuplicate, fold
from civicloop.schemas.codec import decode, encode
from civicloop.schemas.event import Event
from tests.support import case_events as ev
from tests.support.case_events import at


def folded(events: list[Event]) -> CaseState:
    """The case after ``events``, each folded with the digest of its encoded bytes."""
    state = None
    for event in events:
        state = fold(state, event, body=body_digest(encode(event)))
    assert state is not None
    return state


def changed(event: Event, **fields: object) -> Event:
    return Event(event.type, {**event.fields, **fields}, event.version)


def case_in_progress() -> list[Event]:
    return [
        ev.reported(at(0)),
        ev.registered(at(1)),
        ev.dispatched(at(2)),
        ev.accepted(at(3)),
        ev.escalated(at(4)),
    ]


def test_a_copy_with_the_same_bytes_is_a_redelivery_that_changes_nothing() -> None:
    events = case_in_progress()
    given = folded(events)
    again = decode(encode(events[2]))  # what the topic hands back, decoded anew

    assert fold(given, again, body=body_digest(encode(again))) is given


@pytest.mark.parametrize(
    "change",
    [
        {"source": "forged/1"},
        {"occurred_at": at(3.5)},
        {"recorded_at": at(9)},
        {"actor": {"type": "system", "id": "someone-else"}},
        {"department": "water"},
    ],
    ids=["source", "occurred_at", "recorded_at", "actor", "department"],
)
def test_a_copy_with_any_field_changed_is_a_conflicting_duplicate(change: dict[str, object]) -> None:
    events = case_in_progress()
    given = folded(events)
    before = given.to_bytes()
    forged = changed(events[2], **change)  # the dispatch, reusing its event id

    with pytest.raises(ConflictingDuplicate) as refused:
        fold(given, forged, body=body_digest(encode(forged)))

    first, second = body_digest(encode(events[2])), body_digest(encode(forged))
    assert refused.value.reason == refused.value.dead_letter == "conflicting_duplicate"
    assert f"{first:016x}" in refused.value.message and f"{second:016x}" in refused.value.message
    assert given.to_bytes() == before, "the state is untouched"


def test_another_type_under_a_folded_id_is_a_conflicting_duplicate() -> None:
    # given a voided case, when a CaseEscalated arrives under the CaseVoided's event id
    events = [ev.reported(at(0)), ev.voided(at(1))]
    given = folded(events)
    escalation = ev.escalated(at(2), event_id=events[1].event_id)

    # then it is a conflicting duplicate, not a redelivery nor "case_voided"
    with pytest.raises(ConflictingDuplicate):
        fold(given, escalation, body=body_digest(encode(escalation)))


def test_the_first_body_is_kept_in_the_state_across_serialisation() -> None:
    events = case_in_progress()
    stored = CaseState.from_bytes(folded(events).to_bytes())  # a restart, another worker
    forged = changed(events[0], source="forged/1")

    assert stored.seen and UNKNOWN_BODY not in stored.seen.values()
    with pytest.raises(ConflictingDuplicate):
        fold(stored, forged, body=body_digest(encode(forged)))
    assert fold(stored, events[0], body=body_digest(encode(events[0]))) is stored


def test_a_copy_whose_body_is_not_known_is_taken_as_a_redelivery() -> None:
    # the API checks hand-built events (no bytes): a retry must not look like a conflict
    events = case_in_progress()
    given = folded(events)
    assert fold(given, changed(events[1], source="retried/1")) is given


def test_a_state_saved_before_body_digests_reads_back_with_bodies_unknown() -> None:
    # given a state in format 1 (seen event ids, no body digests)
    events = case_in_progress()
    data = orjson.loads(folded(events).to_bytes())
    del data["bodies"]
    data["_format"] = 1
    old = CaseState.from_bytes(orjson.dumps(data))

    # then its events are known, their bodies are not: any copy is a redelivery …
    assert set(old.seen.values()) == {UNKNOWN_BODY}
    forged = changed(events[1], source="forged/1")
    assert fold(old, forged, body=body_digest(encode(forged))) is old
    # … and events folded from now on keep their body
    later = ev.disposed(at(5))
    after = fold(old, later, body=body_digest(encode(later)))
    with pytest.raises(ConflictingDuplicate):
        forged_later = changed(later, source="forged/1")
        fold(after, forged_later, body=body_digest(encode(forged_later)))
