"""What the stores can hold: the SDK refuses absurd values with the field named, and the worker's
check of decoded events (bytes that did not come through this SDK) refuses the same ones."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from civicloop.schemas.codec import decode, encode
from civicloop.schemas.event import Event
from civicloop.schemas.events import EventValidationError, check_decoded, event_from_json, new_event

T0 = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
ACTOR = {"type": "hotline_agent", "id": "s-1"}
BASE: dict[str, dict[str, Any]] = {
    "CaseReported": dict(
        channel="app",
        category="roads",
        description="hole",
        priority="normal",
        reporter_ref=None,
        location={"lat": 39.3, "lon": -76.6, "address": None, "grid_id": None, "district": None},
        contact_ciphertext=None,
        contact_key_id=None,
    ),
    "TaskDispatched": dict(task_id="T-1", department="roads", role="lead", accept_by=T0, dispose_by=T0),
    "DeadlineExtended": dict(task_id="T-1", new_dispose_by=T0, approver="boss"),
    "CaseEscalated": dict(level=1, reason="supervisor", task_id=None, deadline=None),
    "TaskDisposed": dict(task_id="T-1", outcome="fixed", note=None),
}
HUGE_ID = "c" * 300_000


def _fields(type_: str, **changes: Any) -> dict[str, Any]:
    envelope = dict(case_id="C-1", occurred_at=T0, recorded_at=T0, actor=ACTOR, source="app/1")
    return {**envelope, **BASE[type_], **changes}


def _sdk(type_: str, **changes: Any) -> Event:
    return new_event(type_, **_fields(type_, **changes))


def _bypassing_the_sdk(type_: str, **changes: Any) -> Event:
    """What a hostile producer puts on the topic: the schema's types, none of its rules."""
    fields = {"event_id": str(uuid.uuid4()), **_fields(type_, **changes)}
    return decode(encode(Event(type_, fields, 2 if type_ == "TaskDispatched" else 1)))


ABSURD = [
    ("CaseReported", {"occurred_at": datetime(1, 1, 1, tzinfo=UTC)}, "occurred_at", "out_of_range"),
    ("CaseReported", {"occurred_at": datetime(1900, 1, 1, tzinfo=UTC)}, "occurred_at", "out_of_range"),
    (
        "CaseReported",
        {"occurred_at": datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)},
        "occurred_at",
        "out_of_range",
    ),
    ("CaseReported", {"recorded_at": datetime(2999, 1, 1, tzinfo=UTC)}, "recorded_at", "out_of_range"),
    ("TaskDispatched", {"dispose_by": datetime(2999, 1, 1, tzinfo=UTC)}, "dispose_by", "out_of_range"),
    (
        "TaskDispatched",
        {"accept_by": datetime(1900, 1, 1, tzinfo=UTC), "dispose_by": T0},
        "accept_by",
        "out_of_range",
    ),
    (
        "DeadlineExtended",
        {"new_dispose_by": datetime(2106, 1, 1, tzinfo=UTC)},
        "new_dispose_by",
        "out_of_range",
    ),
    ("CaseEscalated", {"level": -5}, "level", "out_of_range"),
    ("CaseEscalated", {"level": 300}, "level", "out_of_range"),
    ("CaseEscalated", {"deadline": datetime(2999, 1, 1, tzinfo=UTC)}, "deadline", "out_of_range"),
    ("CaseReported", {"case_id": HUGE_ID}, "case_id", "too_long"),
    ("CaseReported", {"case_id": "c" * 129}, "case_id", "too_long"),
    ("CaseReported", {"category": "k" * 1000}, "category", "too_long"),
    ("CaseReported", {"description": "d" * 4001}, "description", "too_long"),
    ("CaseReported", {"source": "s" * 129}, "source", "too_long"),
    ("CaseReported", {"actor": {"type": "hotline_agent", "id": "a" * 129}}, "actor.id", "too_long"),
    (
        "CaseReported",
        {"location": {"lat": None, "lon": None, "address": "a" * 1001, "grid_id": None, "district": None}},
        "location.address",
        "too_long",
    ),
    (
        "CaseReported",
        {"location": {"lat": None, "lon": None, "address": None, "grid_id": "g" * 129, "district": None}},
        "location.grid_id",
        "too_long",
    ),
    (
        "CaseReported",
        {"contact_ciphertext": b"x" * 4097, "contact_key_id": "k"},
        "contact_ciphertext",
        "too_long",
    ),
    ("TaskDisposed", {"note": "n" * 4001}, "note", "too_long"),
    ("TaskDispatched", {"task_id": "t" * 129}, "task_id", "too_long"),
]
NOT_FINITE = [
    ({"lat": math.nan, "lon": 0.0}, "location.lat"),
    ({"lat": 0.0, "lon": math.inf}, "location.lon"),
    ({"lat": 0.0, "lon": 1000.0}, "location.lon"),
    ({"lat": -90.5, "lon": 0.0}, "location.lat"),
]


@pytest.mark.parametrize(("type_", "changes", "field", "reason"), ABSURD)
def test_the_sdk_refuses_what_the_store_cannot_hold_naming_the_field(
    type_: str, changes: dict[str, Any], field: str, reason: str
) -> None:
    with pytest.raises(EventValidationError) as caught:
        _sdk(type_, **changes)
    assert (caught.value.field, caught.value.reason) == (field, reason)
    assert str(caught.value).startswith(f"{type_}.{field} = ")


@pytest.mark.parametrize(("type_", "changes", "field", "reason"), ABSURD)
def test_the_worker_check_refuses_the_same_in_bytes_that_bypassed_the_sdk(
    type_: str, changes: dict[str, Any], field: str, reason: str
) -> None:
    event = _bypassing_the_sdk(type_, **changes)
    with pytest.raises(EventValidationError) as caught:
        check_decoded(event)
    assert (caught.value.field, caught.value.reason) == (field, reason)


@pytest.mark.parametrize(("location", "field"), NOT_FINITE)
def test_coordinates_must_be_finite_and_on_the_globe(location: dict[str, float], field: str) -> None:
    place = {"address": None, "grid_id": None, "district": None, **location}
    with pytest.raises(EventValidationError) as caught:
        check_decoded(_bypassing_the_sdk("CaseReported", location=place))
    assert caught.value.field == field
    with pytest.raises(EventValidationError) as caught:
        _sdk("CaseReported", location=place)
    assert caught.value.field == field


def test_values_at_the_limits_are_accepted_unchanged() -> None:
    first, last = datetime(1970, 1, 1, tzinfo=UTC), datetime(2105, 12, 31, 23, 59, 59, tzinfo=UTC)
    dispatch = _sdk("TaskDispatched", occurred_at=first, recorded_at=first, accept_by=first, dispose_by=last)
    assert (dispatch["accept_by"], dispatch["dispose_by"]) == (first, last), "nothing is clamped"
    report = _sdk("CaseReported", case_id="c" * 128, description="d" * 4000, category="k" * 128)
    assert len(report.case_id) == 128
    check_decoded(decode(encode(report)))
    check_decoded(decode(encode(dispatch)))


def test_the_worker_check_also_applies_the_rules_across_fields() -> None:
    late_accept = _bypassing_the_sdk("TaskDispatched", accept_by=T0, dispose_by=T0 - timedelta(hours=1))
    with pytest.raises(EventValidationError) as caught:
        check_decoded(late_accept)
    assert (caught.value.field, caught.value.reason) == ("dispose_by", "before_accept_by")
    with pytest.raises(EventValidationError) as caught:
        check_decoded(_bypassing_the_sdk("CaseReported", event_id="not-a-uuid"))
    assert caught.value.field == "event_id"


def test_the_worker_check_does_not_judge_the_future_the_fold_does_against_the_record_time() -> None:
    check_decoded(_bypassing_the_sdk("CaseReported", occurred_at=datetime.now(UTC) + timedelta(days=3)))


def test_json_lines_with_absurd_values_are_refused_with_the_field() -> None:
    obj = {
        "type": "CaseEscalated",
        "case_id": "C-1",
        "occurred_at": "1900-01-01T00:00:00Z",
        "actor": ACTOR,
        "source": "app/1",
        "level": 1,
        "reason": "supervisor",
    }
    with pytest.raises(EventValidationError) as caught:
        event_from_json(obj)
    assert caught.value.field == "occurred_at"
    with pytest.raises(EventValidationError) as caught:
        event_from_json({**obj, "occurred_at": "2024-05-01T00:00:00Z", "level": 300})
    assert caught.value.field == "level"
