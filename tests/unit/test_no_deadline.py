"""Tasks dispatched without a deadline (TaskDispatched v2: null accept_by / dispose_by).

Given / when / then, layer by layer: the contract (v1 data still reads, v2 nulls round-trip,
the SDK rule), the fold and its rows, and the state's serialised form. The metric SQL on chDB
is in ``test_metrics_sql``; the watchdog and the table upgrade in ``test_no_deadline_store``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from civicloop.projections.fold.casestate import CaseState
from civicloop.projections.fold.lifecycle import IllegalTransition, fold_all
from civicloop.projections.fold.states import State
from civicloop.projections.tables.rows import case_row, task_rows
from civicloop.schemas.codec import decode, encode, encode_version
from civicloop.schemas.event import Event
from civicloop.schemas.events import EventValidationError, event_from_json, event_to_json, new_event
from civicloop.schemas.registry import registry
from tests.support import case_events as ev
from tests.support.case_events import at
from tests.support.strategies import events

T0 = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
TASK: dict[str, Any] = dict(
    case_id="C-1",
    actor=("system", "dispatcher"),
    source="app/1",
    occurred_at=T0,
    task_id="T-1",
    department="roads",
    role="lead",
)
NO_DEADLINE = [ev.reported(at(0)), ev.registered(at(1)), ev.dispatched(at(2), accept_h=None, dispose_h=None)]


class TestContract:
    def test_v1_data_reads_with_the_v2_reader_and_keeps_its_deadlines(self) -> None:
        # given a TaskDispatched encoded with the released v1 schema (deadlines required)
        v1 = registry().versions("TaskDispatched")[1]
        fields = {
            **new_event("TaskDispatched", **TASK, accept_by=T0, dispose_by=T0).fields,
            "accept_by": T0 + timedelta(minutes=30),
            "dispose_by": T0 + timedelta(days=2),
        }
        data = encode_version(v1, fields)
        # when decoded while v2 is the latest version
        event = decode(data)
        # then it is writer version 1, resolved to v2's fields, with its deadlines as written
        assert registry().latest("TaskDispatched").version == 2
        assert (event.type, event.version) == ("TaskDispatched", 1)
        assert event["accept_by"] == T0 + timedelta(minutes=30)
        assert event["dispose_by"] == T0 + timedelta(days=2)
        assert event.fields == fields

    def test_a_v2_event_without_deadlines_round_trips(self) -> None:
        # given a dispatch that leaves both deadlines out (the schema default is null)
        event = new_event("TaskDispatched", **TASK)
        assert (event["accept_by"], event["dispose_by"], event.version) == (None, None, 2)
        # when encoded and decoded, and written to and read from JSON Lines
        decoded = decode(encode(event))
        line = event_to_json(event)
        # then nothing changed, and JSON says null
        assert decoded == event
        assert (line["accept_by"], line["dispose_by"]) == (None, None)
        assert event_from_json({**line, "event_id": event.event_id}) == event

    @pytest.mark.parametrize(
        ("accept_by", "dispose_by"),
        [
            (None, T0),
            (T0, None),
            (None, None),
            (T0, T0),
            (T0, T0 + timedelta(1)),
        ],
    )
    def test_the_deadline_order_binds_only_when_both_are_set(self, accept_by, dispose_by) -> None:
        event = new_event("TaskDispatched", **TASK, accept_by=accept_by, dispose_by=dispose_by)
        assert (event["accept_by"], event["dispose_by"]) == (accept_by, dispose_by)

    def test_dispose_by_before_accept_by_is_still_rejected(self) -> None:
        with pytest.raises(EventValidationError) as caught:
            new_event("TaskDispatched", **TASK, accept_by=T0, dispose_by=T0 - timedelta(seconds=1))
        assert (caught.value.field, caught.value.reason) == ("dispose_by", "before_accept_by")

    def test_the_strategies_draw_every_mix_of_null_and_set_deadlines(self) -> None:
        seen: set[tuple[bool, bool]] = set()

        @settings(max_examples=100, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
        @given(events(("TaskDispatched",)))
        def draw(event: Event) -> None:
            seen.add((event["accept_by"] is None, event["dispose_by"] is None))

        draw()
        assert seen == {(True, True), (True, False), (False, True), (False, False)}


class TestFold:
    def test_a_task_without_deadlines_is_dispatched_like_any_other(self) -> None:
        # given a lead dispatched without deadlines; when folded
        case = fold_all(NO_DEADLINE)
        # then the case is DISPATCHED to that department, and no deadline is set anywhere
        assert case.state == State.DISPATCHED and case.lead is not None
        assert (case.lead.accept_by, case.lead.dispose_by, case.lead.original_dispose_by) == (
            None,
            None,
            None,
        )
        row = case_row(case)
        assert (row["lead_department"], row["due_at"], row["accept_by"]) == ("roads", None, None)
        (task,) = task_rows(case)
        assert {k: task[k] for k in ("accept_by", "dispose_by", "original_dispose_by")} == dict.fromkeys(
            ("accept_by", "dispose_by", "original_dispose_by")
        )

    def test_the_rest_of_the_lifecycle_is_unchanged(self) -> None:
        case = fold_all(
            [
                *NO_DEADLINE,
                ev.accepted(at(3)),
                ev.contacted(at(3)),
                ev.disposed(at(10)),
                ev.checked(at(11)),
                ev.closed(at(12)),
            ]
        )
        row = case_row(case)
        assert (case.state, row["closed_at"], row["due_at"]) == (State.CLOSED, at(12), None)

    def test_only_dispose_by_may_be_set(self) -> None:
        case = fold_all([*NO_DEADLINE[:2], ev.dispatched(at(2), accept_h=None, dispose_h=48)])
        row = case_row(case)
        assert (row["accept_by"], row["due_at"]) == (None, at(50))

    def test_an_extension_of_a_task_without_a_deadline_sets_one(self) -> None:
        # given an accepted task without a deadline; when an extension names one
        case = fold_all([*NO_DEADLINE, ev.accepted(at(3)), ev.extended(at(5), at(100))])
        # then it is the deadline in force; the original stays "none set"; it counts once
        (task,) = task_rows(case)
        assert (task["dispose_by"], task["original_dispose_by"], task["extensions"]) == (at(100), None, 1)
        assert (case_row(case)["due_at"], case.extensions) == (at(100), 1)
        # and a later extension must move it later, as for any deadline
        with pytest.raises(IllegalTransition, match="not_an_extension"):
            fold_all([ev.extended(at(6), at(90))], case)

    def test_a_present_deadline_must_still_be_a_utc_time(self) -> None:
        bad = ev.event(
            "TaskDispatched",
            at(2),
            task_id="T1",
            department="roads",
            role="lead",
            accept_by=None,
            dispose_by=datetime(2024, 3, 6),
        )  # naive
        with pytest.raises(IllegalTransition, match=r"malformed_event.*bad times \['dispose_by'\]"):
            fold_all([*NO_DEADLINE[:2], bad])

    def test_a_dispatch_event_without_the_deadline_fields_folds_as_none(self) -> None:
        # a hand-built event may leave the optional fields out entirely (decoded ones never do)
        bare = ev.event("TaskDispatched", at(2), task_id="T1", department="roads", role="lead")
        case = fold_all([*NO_DEADLINE[:2], bare])
        assert case.lead is not None and (case.lead.accept_by, case.lead.dispose_by) == (None, None)

    def test_the_state_serialises_with_null_deadlines_in_the_same_format(self) -> None:
        given = fold_all([*NO_DEADLINE, ev.dispatched(at(2), "A1", "water", "assist")])
        raw = given.to_bytes()
        assert b'"accept_by":null' in raw and b'"_format":2' in raw
        assert CaseState.from_bytes(raw) == given


def test_decoded_events_fold_whatever_their_version() -> None:
    # given the same dispatch as v1 data (deadlines set) and as v2 data without deadlines
    v1 = registry().versions("TaskDispatched")[1]
    with_deadlines = new_event(
        "TaskDispatched",
        **{**TASK, "case_id": ev.CASE, "occurred_at": at(2)},
        accept_by=at(3),
        dispose_by=at(50),
    )
    old = decode(encode_version(v1, with_deadlines.fields))
    new = decode(
        encode(Event("TaskDispatched", {**with_deadlines.fields, "accept_by": None, "dispose_by": None}, 2))
    )
    # when each is folded after the same report; then only the deadlines differ
    head = NO_DEADLINE[:2]
    assert case_row(fold_all([*head, old]))["due_at"] == at(50)
    assert case_row(fold_all([*head, new]))["due_at"] is None
