"""Hypothesis strategies for valid events of every type, derived from the .avsc files.

Field values come from each field's Avro type; the few rules a schema cannot express
(coordinate ranges, deadlines, duplicate_of, escalation level) are applied on top, and every
event is built through ``new_event`` so the strategies cannot drift from the validator.
"""

from __future__ import annotations

import string
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from civicloop.schemas.event import Event
from civicloop.schemas.events import EVENT_TYPES, new_event
from civicloop.schemas.registry import reader_schema

# A fixed upper bound (not "now") keeps examples reproducible; occurred_at must not be future.
_LATEST = datetime(2025, 12, 31)
timestamps = st.datetimes(min_value=datetime(2000, 1, 1), max_value=_LATEST, timezones=st.just(UTC))
# What schemas/ids.py allows, from fixed alphabets (no Unicode category tables to build, and the
# rule's own code is not the judge of its inputs): ids of letters, marks and digits of several
# scripts and - _ . :; codes of printable characters, spaces and quotes included.
_ID_CHARS = string.ascii_letters + string.digits + "-_.:" + "éßΩж京市道٣\u0301"
_CODE_CHARS = _ID_CHARS + " '\"/\\()&,#@%+=!?<>\u00a0\u3000"
ids = st.text(st.sampled_from(_ID_CHARS), min_size=1, max_size=20)
codes = st.text(st.sampled_from(_CODE_CHARS), min_size=1, max_size=20).filter(str.strip)
# Free text: any character but controls (tab and line breaks only where several lines are
# allowed), bidi embeddings, overrides and isolates, surrogates; one line: no U+2028/2029 either.
_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_LINE_CHARS = st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp"), exclude_characters=_BIDI)
_TEXT_CHARS = st.characters(exclude_categories=("Cc", "Cs"), exclude_characters=_BIDI) | st.sampled_from(
    "\t\r\n"
)
free_text = st.text(_TEXT_CHARS, max_size=40)
one_line = st.text(_LINE_CHARS, max_size=40)

# Per field name, where the type alone would generate values the contract rejects.
_BY_NAME: dict[str, st.SearchStrategy[Any]] = {
    "event_id": st.uuids().map(str),
    "lat": st.floats(-90, 90),
    "lon": st.floats(-180, 180),
    "level": st.integers(1, 3),
    "rating": st.integers(1, 5),
    "description": st.text(_TEXT_CHARS, max_size=200),
    **{name: ids for name in ("case_id", "task_id", "duplicate_of")},
    **{name: codes for name in ("source", "department", "approver", "category", "id")},
    **{name: free_text for name in ("note", "comment")},
    **{name: one_line for name in ("address", "media_url")},
}
_BY_TYPE: dict[str, st.SearchStrategy[Any]] = {
    "string": codes | st.just(""),
    "bytes": st.binary(max_size=64),
    "boolean": st.booleans(),
    "int": st.integers(-(2**31), 2**31 - 1),
    "long": st.integers(-(2**63), 2**63 - 1),
    "float": st.floats(width=32, allow_nan=False),
    "double": st.floats(allow_nan=False),
}


def values(schema: Any, name: str = "") -> st.SearchStrategy[Any]:
    """Values for one Avro (expanded) schema; ``name`` is the field it belongs to."""
    if isinstance(schema, list):
        return st.one_of(*(values(branch, name) for branch in schema))
    if schema == "null":
        return st.none()
    if name in _BY_NAME:
        return _BY_NAME[name]
    kind = schema if isinstance(schema, str) else schema["type"]
    if isinstance(schema, dict) and schema.get("logicalType") == "timestamp-millis":
        return timestamps
    if kind == "record":
        return st.fixed_dictionaries({f["name"]: values(f["type"], f["name"]) for f in schema["fields"]})
    if kind == "enum":
        return st.sampled_from(schema["symbols"])
    if kind == "array":
        return st.lists(values(schema["items"], name), max_size=3)
    if kind == "map":
        return st.dictionaries(codes, values(schema["values"], name), max_size=3)
    return _BY_TYPE[kind]


def _apply_rules(fields: dict[str, Any]) -> dict[str, Any]:
    # Mirror the guards in schemas/events.py that span more than one field.
    # Deadlines are optional unions since TaskDispatched v2: values() draws null or a time for
    # each independently, so all four combinations occur; the order binds only when both set.
    accept, dispose = fields.get("accept_by"), fields.get("dispose_by")
    if accept is not None and dispose is not None and dispose < accept:
        fields["accept_by"], fields["dispose_by"] = dispose, accept
    if fields.get("reason") == "duplicate" or fields.get("duplicate_of") == fields["case_id"]:
        fields["duplicate_of"] = fields["case_id"] + "-original"
    if fields.get("contact_ciphertext") is not None and not fields.get("contact_key_id"):
        fields["contact_key_id"] = "key-1"
    return fields


@st.composite
def events(draw: st.DrawFn, types: tuple[str, ...] = EVENT_TYPES) -> Event:
    """A valid event of one of ``types`` (all 14 by default), built with ``new_event``."""
    event_type = draw(st.sampled_from(types))
    fields = _apply_rules(draw(values(reader_schema(event_type))))
    return new_event(event_type, **fields)
