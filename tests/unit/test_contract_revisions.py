"""The revisions of the event contract (schemas/revisions.py) and where each takes effect
(projections/contract.py): an event is judged by the revision in force where it sits in the
log, the boundary of a new revision is recorded before it judges anything, and it is placed
where the live projection stands."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from civicloop.projections.contract import UNRECORDED, Boundaries, Boundary, Contract
from civicloop.schemas.codec import decode, encode
from civicloop.schemas.event import Event
from civicloop.schemas.events import EventValidationError, check_decoded
from civicloop.schemas.revisions import BASE, CURRENT, REVISIONS
from tests.support import case_events as ev

#: free text revision 1 took and revision 2 refuses (d862e90): a NUL, an escape sequence, a
#: right-to-left override
LAX = "refund \x00\x1b[2J\u202e001$"


def _on_the_topic(event: Event) -> Event:
    """What a producer without the SDK put on the topic: the schema's types, none of its rules."""
    return decode(encode(event))


def _feedback(comment: str) -> Event:
    return _on_the_topic(ev.feedback(ev.at(1), rating=2, comment=comment))


def _report(**changes: Any) -> Event:
    report = ev.reported(ev.at(0))
    return _on_the_topic(Event(report.type, {**report.fields, **changes}))


def test_the_revisions_are_numbered_in_order_base_first() -> None:
    assert [r.number for r in REVISIONS] == list(range(1, len(REVISIONS) + 1))
    assert (BASE, CURRENT) == (1, 2)


@pytest.mark.parametrize(
    "event",
    [
        _feedback(LAX),
        _report(description=LAX),
        _report(location={**ev.reported(ev.at(0))["location"], "address": "8 Harbour Rd\u2028second line"}),
        _report(attributes={"ANSWER\u202e": ["yes"]}),  # a code the rule of codes refuses
        _report(attributes={"LONG": ["x" * 1001]}),  # an answer over 1,000 characters
        _report(attributes={"NUL": ["a\x00b"]}),
    ],
    ids=["comment", "description", "address", "answer_code", "answer_length", "answer_text"],
)
def test_what_revision_1_took_it_still_takes_and_revision_2_refuses(event: Event) -> None:
    check_decoded(event, BASE)
    with pytest.raises(EventValidationError) as refused:
        check_decoded(event, CURRENT)
    assert refused.value.reason in ("bad_character", "too_long")
    with pytest.raises(EventValidationError):
        check_decoded(event)  # the current revision unless told


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"case_id": "C-1\u202e2"}, "case_id"),  # the rule of ids predates revision 2
        ({"category": "roads\x00"}, "category"),  # the rule of codes too
        ({"description": "x" * 4001}, "description"),  # and free text's length
        ({"event_id": str(uuid.uuid4()).upper() + "!"}, "event_id"),
    ],
)
def test_revision_1_is_no_laxer_than_it_was(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(EventValidationError) as refused:
        check_decoded(_report(**changes), BASE)
    assert refused.value.field == field


def test_a_message_is_judged_by_the_newest_revision_in_force_at_its_offset() -> None:
    boundaries = Boundaries.of(
        [
            Boundary("events", 0, 2, 100),
            Boundary("events", 0, 3, 250),
            Boundary("events", 1, 2, 0),
            Boundary("events", 0, 2, 180),  # recorded again later (a rebalance): the first stands
        ]
    )
    judged = [boundaries.revision("events", 0, offset) for offset in (0, 99, 100, 249, 250, 10**9)]
    assert judged == [BASE, BASE, 2, 2, 3, 3]
    assert boundaries.revision("events", 1, 0) == 2
    assert boundaries.revision("events", 2, 5) == BASE  # nothing recorded: judged before revisions
    assert boundaries.revision("other", 0, 500) == BASE
    assert UNRECORDED.revision("events", 0, 0) == CURRENT  # no ledger at all: the newest rule


class Ledger:
    """A ledger in memory; what it was asked, in order."""

    def __init__(self, recorded: list[Boundary] | None = None, fail: bool = False) -> None:
        self.recorded = list(recorded or [])
        self.fail = fail
        self.calls: list[str] = []

    def read(self) -> list[Boundary]:
        self.calls.append("read")
        return list(self.recorded)

    def record(self, boundaries: list[Boundary]) -> None:
        self.calls.append("record " + " ".join(f"{b.partition}@{b.offset}" for b in boundaries))
        if self.fail:
            raise ConnectionError("the broker is gone")
        self.recorded.extend(boundaries)


def test_a_boundary_is_placed_where_the_live_projection_stands_and_recorded_once() -> None:
    # given a projection that stands at offset 41 of partition 0 and nowhere on partition 1
    ledger = Ledger()
    contract = Contract(ledger, lambda topic: {0: 41})
    # when a batch redelivered from offset 30 (committed before the kill) and one from 7 come
    boundaries = contract.boundaries([("events", 0, 30), ("events", 0, 55), ("events", 1, 7)])
    # then what the projection holds stays judged as it was, the rest by the current revision
    assert sorted((b.partition, b.revision, b.offset) for b in ledger.recorded) == [
        (0, CURRENT, 42),
        (1, CURRENT, 7),
    ]
    assert [boundaries.revision("events", 0, o) for o in (30, 41, 42, 55)] == [BASE, BASE, CURRENT, CURRENT]
    # and a later batch reads nothing and records nothing
    calls = len(ledger.calls)
    assert contract.boundaries([("events", 0, 56), ("events", 1, 8)]) is boundaries
    assert len(ledger.calls) == calls


def test_a_boundary_another_worker_recorded_is_read_not_recorded_again() -> None:
    ledger = Ledger([Boundary("events", 2, CURRENT, 12)])
    contract = Contract(ledger, lambda topic: {2: 500})
    boundaries = contract.boundaries([("events", 2, 600)])
    assert ledger.calls == ["read"]
    assert boundaries.revision("events", 2, 11) == BASE and boundaries.revision("events", 2, 12) == CURRENT


def test_a_boundary_that_cannot_be_recorded_fails_before_anything_is_judged() -> None:
    ledger = Ledger(fail=True)
    contract = Contract(ledger, lambda topic: {})
    with pytest.raises(ConnectionError):
        contract.boundaries([("events", 0, 0)])
    ledger.fail = False  # the batch is retried once the broker is back
    assert contract.boundaries([("events", 0, 0)]).revision("events", 0, 0) == CURRENT
