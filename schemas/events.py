"""Building events in Python: envelope filled in, defaults applied, contract checked.

Field names, types, enums and defaults come from the latest ``.avsc`` of each type (through
``validate``); the rules a schema cannot express are the guards in ``rules``. A
``CaseReported`` with coordinates gets the district and grid cell its point is in from the
configured boundaries (``civicloop/geography.py``), unless the caller named them.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from civicloop import geography

from .event import Event
from .jsonform import from_json_value, to_json_value
from .limits import storable
from .registry import reader_schema, registry
from .revisions import CURRENT
from .rules import ALWAYS, RULES, Fields, check_not_in_future
from .validate import EventValidationError, check_record

__all__ = [
    "EVENT_TYPES",
    "EventValidationError",
    "check_decoded",
    "event_from_json",
    "event_to_json",
    "new_event",
]

# Lifecycle order (docs/DESIGN.md §3); tests check that these and signals.SIGNAL_TYPES together
# name exactly the folders under avro/.
EVENT_TYPES: tuple[str, ...] = (
    "CaseReported",
    "CaseRegistered",
    "CaseVoided",
    "TaskDispatched",
    "TaskAccepted",
    "TaskReturned",
    "CitizenContacted",
    "DeadlineExtended",
    "CaseEscalated",
    "TaskDisposed",
    "CaseChecked",
    "CaseClosed",
    "FeedbackReceived",
    "CaseReopened",
)


def _actor(actor: Any) -> Any:
    if isinstance(actor, tuple):
        if len(actor) != 2:
            raise EventValidationError("actor", actor, "bad_type", "expected (type, id)")
        return {"type": actor[0], "id": actor[1]}
    return actor


def _build(type: str, fields: Fields, max_future: timedelta) -> Event:
    if type not in EVENT_TYPES:
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
        if type == "CaseReported":
            # a report with coordinates gets the district and grid its point is in (those the
            # caller gave are kept): civicloop/geography.py, CIVICLOOP_BOUNDARIES
            checked["location"] = geography.configured().fill(checked["location"])
        check_not_in_future(checked["occurred_at"], now, max_future)
        _check_rules(type, checked)
    except EventValidationError as err:
        err.args = (f"{type}.{err.args[0]}",)  # say which event, keep field/value/reason as is
        raise
    return Event(type, checked, registry().latest(type).version)


def _check_rules(type: str, fields: Fields, revision: int = CURRENT) -> None:
    for rule in _rules(type, revision):
        rule(fields)


@functools.cache
def _rules(type: str, revision: int) -> tuple[Callable[[Fields], None], ...]:
    return ALWAYS + RULES.get(type, ()) + storable(type, revision)


def check_decoded(event: Event, revision: int = CURRENT) -> None:
    """Apply to a decoded event every rule ``new_event`` applies under ``revision`` of the
    contract, except "not in the future" (the worker judges that against the Kafka record time,
    so a replay decides the same).

    Bytes on the topic need not come from this SDK: the worker calls this on every event it
    decodes and dead-letters a failure as ``invalid:<field>`` (docs/TRUST.md §1). An event is
    judged by the revision in force where it sits in the log (``schemas/revisions.py``), so a
    replay judges it as it was judged when first seen."""
    try:
        _check_rules(event.type, event.fields, revision)
    except EventValidationError as err:
        err.args = (f"{event.type}.{err.args[0]}",)
        raise


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
        "event_id": event_id,
        "case_id": case_id,
        "occurred_at": occurred_at,
        "recorded_at": recorded_at,
        "actor": actor,
        "source": source,
    }
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
    if type not in EVENT_TYPES:
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
