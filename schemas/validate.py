"""Check a Python value against an (expanded) Avro schema, the way the writer will see it.

Returns the value normalised to what a decode would give back: schema defaults filled in,
datetimes in UTC truncated to milliseconds (timestamp-millis keeps no more), bytearray as bytes.
So ``decode(encode(new_event(...))) == new_event(...)``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

_INT_RANGE = {"int": 2**31, "long": 2**63}


class EventValidationError(ValueError):
    """An event field has a value the contract does not allow.

    ``field`` is the dotted path ("location.lat"), ``value`` the offending value and ``reason``
    a short machine-readable code ("required", "bad_enum", "out_of_range", ...).
    """

    def __init__(self, field: str, value: Any, reason: str, allowed: str) -> None:
        shown = repr(value)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        super().__init__(f"{field} = {shown}: {allowed} ({reason})")
        self.field, self.value, self.reason = field, value, reason


def _fail(at: str, value: Any, reason: str, allowed: str) -> EventValidationError:
    return EventValidationError(at, value, reason, allowed)


def _timestamp(value: Any, at: str) -> datetime:
    if not isinstance(value, datetime):
        raise _fail(at, value, "bad_type", "expected a timezone-aware datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise _fail(at, value, "naive_datetime", "datetimes must be timezone-aware (e.g. UTC)")
    utc = value.astimezone(UTC)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)


def _integer(kind: str) -> Callable[[Any, str], Any]:
    def check(value: Any, at: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise _fail(at, value, "bad_type", f"expected an integer ({kind})")
        limit = _INT_RANGE[kind]
        if not -limit <= value < limit:
            raise _fail(at, value, "out_of_range", f"must fit in a signed {kind}")
        return value

    return check


def _number(value: Any, at: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise _fail(at, value, "bad_type", "expected a number")
    if not math.isfinite(value):
        raise _fail(at, value, "out_of_range", "must be a finite number")
    return float(value)


def _string(value: Any, at: str) -> str:
    if not isinstance(value, str):
        raise _fail(at, value, "bad_type", "expected a string")
    try:
        value.encode("utf-8")  # lone surrogates would only fail later, inside the writer
    except UnicodeEncodeError:
        raise _fail(at, value, "bad_type", "must be valid Unicode text") from None
    return value


def _bytes(value: Any, at: str) -> bytes:
    if not isinstance(value, bytes | bytearray):
        raise _fail(at, value, "bad_type", "expected bytes")
    return bytes(value)


def _boolean(value: Any, at: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(at, value, "bad_type", "expected true or false")
    return value


def _null(value: Any, at: str) -> None:
    if value is not None:
        raise _fail(at, value, "bad_type", "expected null")


_PRIMITIVES: dict[str, Callable[[Any, str], Any]] = {
    "null": _null,
    "boolean": _boolean,
    "int": _integer("int"),
    "long": _integer("long"),
    "float": _number,
    "double": _number,
    "string": _string,
    "bytes": _bytes,
}


def check_record(schema: dict[str, Any], value: Any, at: str = "") -> dict[str, Any]:
    """Validated copy of record ``value``, with defaults filled for absent fields."""
    prefix = f"{at}." if at else ""
    if not isinstance(value, dict):
        raise _fail(at or "record", value, "bad_type", f"expected a {schema['name']} record")
    known = [f["name"] for f in schema["fields"]]
    for name in value:
        if name not in known:
            raise _fail(prefix + str(name), value[name], "unknown_field", f"known: {known}")
    out = {}
    for field in schema["fields"]:
        name = field["name"]
        if name in value:
            out[name] = check_value(field["type"], value[name], prefix + name)
        elif "default" in field:
            out[name] = copy.deepcopy(field["default"])
        else:
            raise _fail(prefix + name, None, "required", "this field is required")
    return out


def _check_union(branches: list[Any], value: Any, at: str) -> Any:
    if value is None and "null" in branches:
        return None
    candidates = [b for b in branches if b != "null"] or ["null"]
    for branch in candidates[:-1]:  # several non-null branches: first that fits wins
        try:
            return check_value(branch, value, at)
        except EventValidationError:
            continue
    return check_value(candidates[-1], value, at)


def check_value(schema: Any, value: Any, at: str) -> Any:
    if isinstance(schema, list):
        return _check_union(schema, value, at)
    if isinstance(schema, str):
        return _PRIMITIVES[schema](value, at)
    kind = schema["type"]
    if schema.get("logicalType") == "timestamp-millis":
        return _timestamp(value, at)
    if kind == "record":
        return check_record(schema, value, at)
    if kind == "enum":
        if value not in schema["symbols"]:
            raise _fail(at, value, "bad_enum", f"must be one of {', '.join(schema['symbols'])}")
        return value
    if kind == "array":
        if not isinstance(value, list | tuple):
            raise _fail(at, value, "bad_type", "expected a list")
        return [check_value(schema["items"], item, f"{at}[{i}]") for i, item in enumerate(value)]
    if kind == "map":
        if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
            raise _fail(at, value, "bad_type", "expected a mapping with text keys")
        return {key: check_value(schema["values"], item, f"{at}.{key}") for key, item in value.items()}
    if kind in _PRIMITIVES:
        return _PRIMITIVES[kind](value, at)
    if kind == "array":
        if not isinstance(value, list | tuple):
            raise _fail(at, value, "bad_type", "expected a list")
        return [check_value(schema["items"], item, f"{at}[{n}]") for n, item in enumerate(value)]
    raise TypeError(f"{at}: schema type {kind!r} is not supported by the validator")
