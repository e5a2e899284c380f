"""Building events in Python: envelope filled in, defaults applied, contract checked.

Field names, types, enums and defaults come from the latest ``.avsc`` of each type (through
``validate``); this module adds only the rules a schema cannot express, as small named guards.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from .event import Event
from .jsonform import from_json_value, to_json_value
from .registry import reader_schema, registry
from .validate import EventValidationError, check_record

__all__ = [
    "EVENT_TYPES", "EventValidationError", "event_from_json", "event_to_json", "new_event",
]  # fmt: skip

# Lifecycle order (DESIGN.md §3); tests check it names exactly the folders under avro/.
EVENT_TYPES: tuple[str, ...] = (
    "CaseReported", "CaseRegistered", "CaseVoided", "TaskDispatched", "TaskAccepted",
    "TaskReturned", "CitizenContacted", "DeadlineExtended", "CaseEscalated", "TaskDisposed",
    "CaseChecked", "CaseClosed", "FeedbackReceived", "CaseReopened",
)  # fmt: skip

MAX_DESCRIPTION = 4000  # characters, as Open311's service request description
_NOT_BLANK = ("case_id", "source", "task_id", "department", "approver", "category")

Fields = dict[str, Any]


def check_event_id_is_uuid(f: Fields) -> None:
    try:
        uuid.UUID(f["event_id"])
    except ValueError:
        raise EventValidationError("event_id", f["event_id"], "bad_uuid", "must be a UUID") from None


def check_ids_not_blank(f: Fields) -> None:
    present = [(n, f[n]) for n in _NOT_BLANK if n in f] + [("actor.id", f["actor"]["id"])]
    for name, value in present:
        if value is not None and not value.strip():  # None: an optional id left out
            raise EventValidationError(name, value, "blank", "must not be empty")


def check_description_fits(f: Fields) -> None:
    if len(f["description"]) > MAX_DESCRIPTION:
        n = len(f["description"])
        allowed = f"{n} characters; at most {MAX_DESCRIPTION} are allowed"
        raise EventValidationError("description", f["description"], "too_long", allowed)


def check_coordinates(f: Fields) -> None:
    for axis, limit in (("lat", 90.0), ("lon", 180.0)):
        value = f["location"][axis]
        if value is not None and not -limit <= value <= limit:
            allowed = f"must be between {-limit:g} and {limit:g} (WGS84 degrees)"
            raise EventValidationError(f"location.{axis}", value, "out_of_range", allowed)


def check_contact_has_key(f: Fields) -> None:
    if f["contact_ciphertext"] is not None and not f["contact_key_id"]:
        allowed = "contact_ciphertext needs contact_key_id, or it can never be decrypted"
        raise EventValidationError("contact_key_id", f["contact_key_id"], "required", allowed)


def check_duplicate_names_a_case(f: Fields) -> None:
    if f["reason"] == "duplicate" and not f["duplicate_of"]:
        allowed = "required when reason is duplicate: the case_id of the original case"
        raise EventValidationError("duplicate_of", f["duplicate_of"], "required", allowed)
    if f["duplicate_of"] == f["case_id"]:
        allowed = "a case cannot be a duplicate of itself"
        raise EventValidationError("duplicate_of", f["duplicate_of"], "self_duplicate", allowed)


def check_dispose_not_before_accept(f: Fields) -> None:
    if f["dispose_by"] < f["accept_by"]:
        allowed = f"must not be before accept_by ({f['accept_by'].isoformat()})"
        raise EventValidationError("dispose_by", f["dispose_by"], "before_accept_by", allowed)


def check_escalation_level(f: Fields) -> None:
    if f["level"] not in (1, 2, 3):
        allowed = "must be 1 (urge), 2 (supervise) or 3 (higher level)"
        raise EventValidationError("level", f["level"], "out_of_range", allowed)


_ALWAYS = (check_event_id_is_uuid, check_ids_not_blank)
RULES: dict[str, tuple[Callable[[Fields], None], ...]] = {
    "CaseReported": (check_description_fits, check_coordinates, check_contact_has_key),
    "CaseVoided": (check_duplicate_names_a_case,),
    "TaskDispatched": (check_dispose_not_before_accept,),
    "CaseEscalated": (check_escalation_level,),
}


def check_not_in_future(occurred_at: datetime, now: datetime, max_future: timedelta) -> None:
    if occurred_at > now + max_future:
        allowed = f"must not be more than {max_future} after now ({now.isoformat()})"
        raise EventValidationError("occurred_at", occurred_at, "in_future", allowed)


def _actor(actor: Any) -> Any:
    if isinstance(actor, tuple):
        if len(actor) != 2:
            raise EventValidationError("actor", actor, "bad_type", "expected (type, id)")
        return {"type": actor[0], "id": actor[1]}
    return actor


def _build(type: str, fields: Fields, max_future: timedelta) -> Event:
    if type not in registry().event_types:
        raise EventValidationError("type", type, "unknown_type", f"one of {', '.join(EVENT_TYPES)}")
    now = datetime.now(UTC)
    if fields.get("event_id") is None:
        fields["event_id"] = str(uuid.uuid4())
    if fields.get("recorded_at") is None:
        fields["recorded_at"] = now
    if "actor" in fields:
        fields["actor"] = _actor(fields["actor"])
    try:
        checked = check_record(reader_schema(type), fields)
        check_not_in_future(checked["occurred_at"], now, max_future)
        for rule in _ALWAYS + RULES.get(type, ()):
            rule(checked)
    except EventValidationError as err:
        err.args = (f"{type}.{err.args[0]}",)  # say which event, keep field/value/reason as is
        raise
    return Event(type, checked, registry().latest(type).version)


def new_event(
    type: str,
    *,
    case_id: str,
    actor: dict[str, Any] | tuple[str, str],
    source: str,
    occurred_at: datetime,
    event_id: str | None = None,
    recorded_at: datetime | None = None,
    max_future: timedelta = timedelta(minutes=5),
    **fields: Any,
) -> Event:
    """A validated event of the latest version of ``type``; raises ``EventValidationError``.

    ``event_id`` defaults to a new UUID4 and ``recorded_at`` to now (UTC); schema defaults fill
    absent optional fields; datetimes are normalised to UTC milliseconds.
    """
    envelope = {
        "event_id": event_id, "case_id": case_id, "occurred_at": occurred_at,
        "recorded_at": recorded_at, "actor": actor, "source": source,
    }  # fmt: skip
    return _build(type, {**envelope, **fields}, max_future)


def event_from_json(obj: dict[str, Any], max_future: timedelta = timedelta(minutes=5)) -> Event:
    """An event from one JSON Lines object: ``{"type": ..., "case_id": ..., ...}``.

    Timestamps are ISO-8601 strings with an offset, bytes are base64; same checks as new_event.
    Give ``event_id`` for anything that may be imported twice, or each import mints new ids.
    """
    if not isinstance(obj, dict):
        raise EventValidationError("(event)", obj, "bad_type", "expected a JSON object")
    fields = dict(obj)
    type = fields.pop("type", None)
    if type not in registry().event_types:
        raise EventValidationError("type", type, "unknown_type", f"one of {', '.join(EVENT_TYPES)}")
    schema = {f["name"]: f["type"] for f in reader_schema(type)["fields"]}
    converted = {
        name: from_json_value(schema[name], value, name) if name in schema else value
        for name, value in fields.items()
    }
    return _build(type, converted, max_future)


def event_to_json(event: Event) -> dict[str, Any]:
    """The JSON Lines object for ``event`` (inverse of ``event_from_json``)."""
    schema = {f["name"]: f["type"] for f in reader_schema(event.type)["fields"]}
    fields = {name: to_json_value(schema[name], value) for name, value in event.fields.items()}
    return {"type": event.type, **fields}
