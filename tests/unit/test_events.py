"""Building events: envelope defaults, schema defaults, and errors that name field and value."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from civicloop.schemas.event import Event
from civicloop.schemas.events import (
    EVENT_TYPES,
    EventValidationError,
    event_from_json,
    event_to_json,
    new_event,
)
from civicloop.schemas.loader import AVRO_DIR
from civicloop.schemas.registry import registry
from civicloop.schemas.signals import SIGNAL_TYPES
from tests.support.strategies import events

T0 = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
ENVELOPE: dict[str, Any] = dict(case_id="C-1", actor=("citizen", "p-1"), source="app/1", occurred_at=T0)
REPORT: dict[str, Any] = dict(
    channel="app",
    category="road.pothole",
    description="hole",
    location={"lat": 39.9, "lon": 116.4},
    priority="normal",
    reporter_ref=None,
)


def _report(**changes: Any) -> Event:
    return new_event("CaseReported", **{**ENVELOPE, **REPORT, **changes})


def test_event_and_signal_types_name_exactly_the_schema_folders() -> None:
    folders = {p.name for p in AVRO_DIR.iterdir() if p.is_dir() and not p.name.startswith("_")}
    assert len(EVENT_TYPES) == 14 and len(SIGNAL_TYPES) == 3
    assert set(EVENT_TYPES) | set(SIGNAL_TYPES) == folders and not set(EVENT_TYPES) & set(SIGNAL_TYPES)
    # and each list is exactly its contract's namespace
    assert set(registry().types_in("civicloop.events")) == set(EVENT_TYPES)
    assert set(registry().types_in("civicloop.signals")) == set(SIGNAL_TYPES)


def test_a_signal_type_is_not_a_case_event() -> None:
    with pytest.raises(EventValidationError) as caught:
        new_event("SurgeDetected", **ENVELOPE)
    assert caught.value.reason == "unknown_type"


def test_envelope_and_schema_defaults_are_filled_in() -> None:
    # given a report without event_id, recorded_at, contact or address
    before = datetime.now(UTC) - timedelta(seconds=1)
    event = _report()
    # then the SDK minted a UUID, stamped recorded_at now and applied the schema defaults
    assert uuid.UUID(event.event_id).version == 4
    assert before <= event["recorded_at"] <= datetime.now(UTC)
    assert event["contact_ciphertext"] is None and event["location"]["address"] is None
    assert event["actor"] == {"type": "citizen", "id": "p-1"}


def test_datetimes_are_normalised_to_utc_milliseconds() -> None:
    beijing = timezone(timedelta(hours=8))
    event = _report(occurred_at=datetime(2024, 5, 1, 17, 30, 0, 123456, tzinfo=beijing))
    assert event.occurred_at == datetime(2024, 5, 1, 9, 30, 0, 123000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("changes", "field", "value", "reason"),
    [
        ({"priority": "asap"}, "priority", "asap", "bad_enum"),
        ({"actor": ("robot", "r-1")}, "actor.type", "robot", "bad_enum"),
        ({"location": {"lat": 91.5}}, "location.lat", 91.5, "out_of_range"),
        ({"location": {"lon": -180.5}}, "location.lon", -180.5, "out_of_range"),
        ({"description": "x" * 4001}, "description", "x" * 4001, "too_long"),
        ({"colour": "red"}, "colour", "red", "unknown_field"),
        ({"category": 7}, "category", 7, "bad_type"),
        ({"occurred_at": datetime(2024, 5, 1)}, "occurred_at", datetime(2024, 5, 1), "naive_datetime"),
        ({"event_id": "not-a-uuid"}, "event_id", "not-a-uuid", "bad_uuid"),
        ({"case_id": "  "}, "case_id", "  ", "blank"),
        ({"contact_ciphertext": b"x"}, "contact_key_id", None, "required"),
        ({"attributes": ["size", "large"]}, "attributes", ["size", "large"], "bad_type"),
        ({"attributes": {"size": "large"}}, "attributes.size", "large", "bad_type"),
        ({"attributes": {"size": ["large", 3]}}, "attributes.size[1]", 3, "bad_type"),
    ],
)
def test_validation_errors_name_the_field_and_the_value(
    changes: dict[str, Any], field: str, value: Any, reason: str
) -> None:
    with pytest.raises(EventValidationError) as caught:
        _report(**changes)
    err = caught.value
    assert (err.field, err.value, err.reason) == (field, value, reason)
    assert str(err).startswith(f"CaseReported.{field} = ")
    assert repr(value)[:20] in str(err)


def test_open311_details_keep_their_values() -> None:
    # given a report with the Open311 details of CaseReported v2
    event = _report(media_url="https://img.example/1.jpg", attributes={"size": ["large"], "kind": []})
    # then a map of lists of text is kept as given, and what was not given is null
    assert event["attributes"] == {"size": ["large"], "kind": []}
    assert (event["media_url"], event["address_id"]) == ("https://img.example/1.jpg", None)
    assert _report()["attributes"] is None


def test_missing_required_field_is_named() -> None:
    fields = {k: v for k, v in REPORT.items() if k != "priority"}
    with pytest.raises(EventValidationError, match=r"priority = None: this field is required"):
        new_event("CaseReported", **ENVELOPE, **fields)


def test_occurred_at_in_the_future_is_rejected_beyond_max_future() -> None:
    soon = datetime.now(UTC) + timedelta(minutes=10)
    with pytest.raises(EventValidationError) as caught:
        _report(occurred_at=soon)
    assert caught.value.reason == "in_future"
    assert _report(occurred_at=soon, max_future=timedelta(hours=1)).occurred_at <= soon


def test_duplicate_void_needs_duplicate_of() -> None:
    with pytest.raises(EventValidationError) as caught:
        new_event("CaseVoided", **ENVELOPE, reason="duplicate")
    assert (caught.value.field, caught.value.reason) == ("duplicate_of", "required")
    assert new_event("CaseVoided", **ENVELOPE, reason="duplicate", duplicate_of="C-0")


def test_dispose_by_must_not_precede_accept_by() -> None:
    task = dict(task_id="T-1", department="roads", role="lead")
    with pytest.raises(EventValidationError) as caught:
        new_event("TaskDispatched", **ENVELOPE, **task, accept_by=T0, dispose_by=T0 - timedelta(1))
    assert (caught.value.field, caught.value.reason) == ("dispose_by", "before_accept_by")


def test_escalation_level_is_one_to_three() -> None:
    with pytest.raises(EventValidationError, match="level = 4"):
        new_event("CaseEscalated", **ENVELOPE, level=4, reason="supervisor")


def test_unknown_type_lists_the_known_ones() -> None:
    with pytest.raises(EventValidationError, match="CaseReported, CaseRegistered"):
        new_event("CaseLost", **ENVELOPE)


def test_json_lines_form_parses_iso_timestamps_and_base64() -> None:
    obj = {
        "type": "CaseReported",
        **{k: v for k, v in ENVELOPE.items() if k != "occurred_at"},
        **REPORT,
        "actor": {"type": "citizen", "id": "p-1"},
        "occurred_at": "2024-05-01T17:30:00+08:00",
        "contact_ciphertext": "AAE=",
        "contact_key_id": "k-1",
    }
    event = event_from_json(obj)
    assert event.occurred_at == T0 and event["contact_ciphertext"] == b"\x00\x01"
    assert event_to_json(event)["occurred_at"] == "2024-05-01T09:30:00.000Z"


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("occurred_at", "2024-05-01T09:30:00", "naive_datetime"),
        ("occurred_at", 1714555800000, "bad_type"),
        ("occurred_at", "yesterday", "bad_timestamp"),
        ("contact_ciphertext", "not base64!", "bad_base64"),
    ],
)
def test_json_lines_errors_name_the_field(key: str, value: Any, reason: str) -> None:
    obj = {
        "type": "CaseReported",
        **ENVELOPE,
        **REPORT,
        "occurred_at": "2024-05-01T09:30:00Z",
        "actor": {"type": "citizen", "id": "p-1"},
        key: value,
    }
    with pytest.raises(EventValidationError) as caught:
        event_from_json(obj)
    assert (caught.value.field, caught.value.value, caught.value.reason) == (key, value, reason)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=events())
def test_json_form_round_trips(event: Event) -> None:
    assert event_from_json(event_to_json(event)) == event
