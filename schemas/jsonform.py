"""Schema-driven conversion between event fields and their JSON Lines form.

Only two Avro types have no native JSON form: timestamp-millis (ISO-8601 strings with an
explicit offset, written as UTC ``...Z``) and bytes (standard base64). Everything else passes
through; type checking stays in ``validate`` so JSON and Python input get the same messages.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any

from .validate import EventValidationError


def _is_timestamp(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("logicalType") == "timestamp-millis"


def _is_bytes(schema: Any) -> bool:
    return schema == "bytes" or (isinstance(schema, dict) and schema.get("type") == "bytes")


def _parse_timestamp(value: Any, at: str) -> datetime:
    allowed = "expected an ISO-8601 string with an offset, e.g. 2024-05-01T09:30:00Z"
    if not isinstance(value, str):
        raise EventValidationError(at, value, "bad_type", allowed)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise EventValidationError(at, value, "bad_timestamp", allowed) from None
    if parsed.tzinfo is None:
        raise EventValidationError(at, value, "naive_datetime", allowed)
    return parsed


def _parse_bytes(value: Any, at: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise EventValidationError(at, value, "bad_base64", "expected a base64 string") from None


def from_json_value(schema: Any, value: Any, at: str) -> Any:
    """``value`` from JSON, with timestamps and bytes turned into Python objects."""
    if isinstance(schema, list):
        if value is None:
            return None
        branches = [b for b in schema if b != "null"]
        # A JSON string may be a plain string, a timestamp or base64: our unions have one branch.
        return from_json_value(branches[0], value, at) if len(branches) == 1 else value
    if _is_timestamp(schema):
        return _parse_timestamp(value, at)
    if _is_bytes(schema):
        return _parse_bytes(value, at)
    if isinstance(schema, dict) and schema.get("type") == "record" and isinstance(value, dict):
        fields = {f["name"]: f["type"] for f in schema["fields"]}
        return {k: from_json_value(fields[k], v, f"{at}.{k}") if k in fields else v for k, v in value.items()}
    if isinstance(schema, dict) and schema.get("type") == "array" and isinstance(value, list):
        return [from_json_value(schema["items"], v, f"{at}[{i}]") for i, v in enumerate(value)]
    if isinstance(schema, dict) and schema.get("type") == "map" and isinstance(value, dict):
        return {k: from_json_value(schema["values"], v, f"{at}.{k}") for k, v in value.items()}
    return value


def _format_timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_json_value(schema: Any, value: Any) -> Any:
    """``value`` as JSON-ready data (inverse of ``from_json_value``)."""
    if value is None:
        return None
    if isinstance(schema, list):
        branches = [b for b in schema if b != "null"]
        return to_json_value(branches[0], value) if len(branches) == 1 else value
    if _is_timestamp(schema):
        return _format_timestamp(value)
    if _is_bytes(schema):
        return base64.b64encode(value).decode("ascii")
    if isinstance(schema, dict) and schema.get("type") == "record":
        fields = {f["name"]: f["type"] for f in schema["fields"]}
        return {k: to_json_value(fields[k], v) for k, v in value.items()}
    if isinstance(schema, dict) and schema.get("type") == "array":
        return [to_json_value(schema["items"], v) for v in value]
    if isinstance(schema, dict) and schema.get("type") == "map":
        return {k: to_json_value(schema["values"], v) for k, v in value.items()}
    return value
