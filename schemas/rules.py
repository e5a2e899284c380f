"""Rules a schema cannot express, as small named guards over a schema-checked record.

Each guard raises ``EventValidationError`` naming the field, the value and what is allowed.
``RULES`` is the table of which guards apply to which event type (plus ``ALWAYS``); the
limits of what the stores can hold (times, lengths) are in ``limits``. The SDK applies all of
them when it builds an event, the worker again to every decoded one (``events.check_decoded``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from .validate import EventValidationError

Fields = dict[str, Any]

_NOT_BLANK = ("case_id", "source", "task_id", "department", "approver", "category")
# The canonical form, checked first: the worker runs these guards on every event it decodes.
_CANONICAL_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def check_event_id_is_uuid(f: Fields) -> None:
    if _CANONICAL_UUID.fullmatch(f["event_id"]):
        return
    try:
        uuid.UUID(f["event_id"])  # the other spellings uuid accepts (braces, urn:uuid:, no dashes)
    except ValueError:
        raise EventValidationError("event_id", f["event_id"], "bad_uuid", "must be a UUID") from None


def check_ids_not_blank(f: Fields) -> None:
    for name in _NOT_BLANK:
        value = f.get(name)
        if value is not None and (not value or value.isspace()):  # None: an optional id left out
            raise EventValidationError(name, value, "blank", "must not be empty")
    actor_id = f["actor"]["id"]
    if not actor_id or actor_id.isspace():
        raise EventValidationError("actor.id", actor_id, "blank", "must not be empty")


def check_coordinates(f: Fields) -> None:
    for axis, limit in (("lat", 90.0), ("lon", 180.0)):
        value = f["location"][axis]
        # Written as "not inside" so that NaN (every comparison false) is refused too.
        if value is not None and not -limit <= value <= limit:
            allowed = f"must be a finite number between {-limit:g} and {limit:g} (WGS84 degrees)"
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
    # Either deadline may be null (v2: none set); the order only binds when both are.
    if f["accept_by"] is None or f["dispose_by"] is None:
        return
    if f["dispose_by"] < f["accept_by"]:
        allowed = f"must not be before accept_by ({f['accept_by'].isoformat()})"
        raise EventValidationError("dispose_by", f["dispose_by"], "before_accept_by", allowed)


def check_escalation_level(f: Fields) -> None:
    if f["level"] not in (1, 2, 3):
        allowed = "must be 1 (urge), 2 (supervise) or 3 (higher level)"
        raise EventValidationError("level", f["level"], "out_of_range", allowed)


def check_rating(f: Fields) -> None:
    if f.get("rating") is not None and f["rating"] not in (1, 2, 3, 4, 5):
        raise EventValidationError("rating", f["rating"], "out_of_range", "must be 1 to 5 stars, or null")


ALWAYS = (check_event_id_is_uuid, check_ids_not_blank)
RULES: dict[str, tuple[Callable[[Fields], None], ...]] = {
    "CaseReported": (check_coordinates, check_contact_has_key),
    "CaseVoided": (check_duplicate_names_a_case,),
    "TaskDispatched": (check_dispose_not_before_accept,),
    "CaseEscalated": (check_escalation_level,),
    "FeedbackReceived": (check_rating,),
}


def check_not_in_future(occurred_at: datetime, now: datetime, max_future: timedelta) -> None:
    if occurred_at > now + max_future:
        allowed = f"must not be more than {max_future} after now ({now.isoformat()})"
        raise EventValidationError("occurred_at", occurred_at, "in_future", allowed)
