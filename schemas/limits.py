"""What the stores can hold: limits on values the Avro types alone would let through.

An Avro ``long`` timestamp reaches from year −290 million to +290 million, a string any
length and any character; ClickHouse keeps times as ``DateTime`` (seconds since 1970, until
2106) and the worker sends case ids inside SQL text. An event outside these limits is refused by the SDK
(``new_event``, ``civicloop produce``, importers) and dead-lettered by the worker as
``invalid:<field>`` — never written clamped (docs/TRUST.md §1).

The limits are derived per event type from the latest ``.avsc``: every timestamp field, every
string and every bytes field, nested records (``location.address``, ``actor.id``) included;
what an id, a code or free text may contain is the rule of ``ids``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .ids import ID_FIELDS, MAX_ID, MULTILINE, code_problem, id_problem, text_problem
from .registry import reader_schema
from .revisions import CURRENT
from .validate import EventValidationError

#: the range both ClickHouse backends store as DateTime('UTC'): from the epoch to before 2106
TIME_MIN = datetime(1970, 1, 1, tzinfo=UTC)
TIME_MAX = datetime(2105, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
__all__ = ["MAX_BYTES", "MAX_ID", "MAX_TEXT", "TIME_MAX", "TIME_MIN", "storable"]
#: characters of free text, per field path
MAX_TEXT = {
    "description": 4000,
    "note": 4000,
    "comment": 4000,
    "location.address": 1000,
    "media_url": 2048,
    # each answer of a map of answers (CaseReported.attributes: code → its values)
    "attributes": 1000,
}
#: bytes of a sealed contact (a phone number or e-mail address sealed with AES-GCM)
MAX_BYTES = 4096

Fields = dict[str, Any]
Path = tuple[str, ...]


def _branches(schema: Any) -> list[Any]:
    return [b for b in schema if b != "null"] if isinstance(schema, list) else [schema]


def _kind(schema: Any) -> str:
    if isinstance(schema, dict):
        return "timestamp" if schema.get("logicalType") == "timestamp-millis" else str(schema["type"])
    return str(schema)


def _walk(schema: dict[str, Any], prefix: Path, found: dict[str, list[Path]]) -> None:
    for field in schema["fields"]:
        path = (*prefix, field["name"])
        for branch in _branches(field["type"]):
            kind = _kind(branch)
            if kind == "record":
                _walk(branch, path, found)
            elif kind in found:
                found[kind].append(path)


@functools.cache
def _paths(event_type: str) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {"timestamp": [], "string": [], "bytes": [], "map": []}
    _walk(reader_schema(event_type), (), found)
    return found


def _nested(f: Fields, path: Path) -> Any:
    value: Any = f
    for name in path:
        if not isinstance(value, dict):
            return None
        value = value.get(name)
    return value


def _split(paths: list[Path]) -> tuple[list[str], list[Path]]:
    """Top-level field names (read with a plain ``get``: the worker runs these checks on every
    event it decodes) and the nested paths."""
    return [p[0] for p in paths if len(p) == 1], [p for p in paths if len(p) > 1]


def check_times_storable(event_type: str) -> Callable[[Fields], None]:
    top, nested = _split(_paths(event_type)["timestamp"])

    def check(f: Fields) -> None:
        values = [(name, f.get(name)) for name in top] + [(".".join(p), _nested(f, p)) for p in nested]
        for name, value in values:
            if value is not None and not TIME_MIN <= value <= TIME_MAX:
                allowed = "must be between 1970-01-01 and 2105-12-31 (UTC), the range ClickHouse stores"
                raise EventValidationError(name, value, "out_of_range", allowed)

    return check


def check_lengths(event_type: str) -> Callable[[Fields], None]:
    found = _paths(event_type)
    paths = found["string"] + found["bytes"]
    limit = {
        ".".join(p): MAX_BYTES if p in found["bytes"] else MAX_TEXT.get(".".join(p), MAX_ID) for p in paths
    }
    top, nested = _split(paths)

    def check(f: Fields) -> None:
        values = [(name, f.get(name)) for name in top] + [(".".join(p), _nested(f, p)) for p in nested]
        for name, value in values:
            if value is not None and len(value) > limit[name]:
                unit = "bytes" if isinstance(value, bytes) else "characters"
                allowed = f"{len(value)} {unit}; at most {limit[name]} are allowed"
                raise EventValidationError(name, value, "too_long", allowed)

    return check


def check_ids(event_type: str) -> Callable[[Fields], None]:
    """The rule of ``ids`` on every id (``ID_FIELDS``) and every code (the other strings
    bounded by ``MAX_ID``) of ``event_type``; run after ``check_lengths``."""
    paths = [p for p in _paths(event_type)["string"] if ".".join(p) not in MAX_TEXT]
    rules = {".".join(p): id_problem if p[-1] in ID_FIELDS and len(p) == 1 else code_problem for p in paths}
    top, nested = _split(paths)

    def check(f: Fields) -> None:
        values = [(name, f.get(name)) for name in top] + [(".".join(p), _nested(f, p)) for p in nested]
        for name, value in values:
            if value and (problem := rules[name](value)) is not None:  # blank: check_ids_not_blank
                raise EventValidationError(name, value, "bad_character", problem)

    return check


def check_text(event_type: str) -> Callable[[Fields], None]:
    """The rule of ``ids`` on every free-text field (``MAX_TEXT``) of ``event_type``: several
    lines in ``ids.MULTILINE``, one line in the others; run after ``check_lengths``."""
    paths = [p for p in _paths(event_type)["string"] if ".".join(p) in MAX_TEXT]
    multiline = {".".join(p): p[-1] in MULTILINE for p in paths}
    top, nested = _split(paths)

    def check(f: Fields) -> None:
        values = [(name, f.get(name)) for name in top] + [(".".join(p), _nested(f, p)) for p in nested]
        for name, value in values:
            if value and (problem := text_problem(value, multiline[name])) is not None:
                raise EventValidationError(name, value, "bad_character", problem)

    return check


def check_answers(event_type: str) -> Callable[[Fields], None]:
    """Every map of answers of ``event_type`` (code → text, or → a list of texts: Open311
    attributes): each code by the rule of codes, each answer free text of several lines of at
    most ``MAX_TEXT[field]`` characters (``MAX_TEXT`` when the field has none of its own)."""
    paths = _paths(event_type)["map"]
    top, nested = _split(paths)

    def check(f: Fields) -> None:
        values = [(name, f.get(name)) for name in top] + [(".".join(p), _nested(f, p)) for p in nested]
        for name, answers in values:
            for code, given in (answers or {}).items():
                _check_answer(name, code, [given] if isinstance(given, str) else given)

    return check


def _check_answer(name: str, code: str, answers: list[str]) -> None:
    if len(code) > MAX_ID:
        raise EventValidationError(
            name, code, "too_long", f"a code of {len(code)} characters; at most {MAX_ID}"
        )
    if (problem := code_problem(code)) is not None:
        raise EventValidationError(name, code, "bad_character", f"the code {problem}")
    limit = MAX_TEXT.get(name, MAX_TEXT["description"])
    for answer in answers:
        if len(answer) > limit:
            allowed = f"an answer to {code} of {len(answer)} characters; at most {limit} are allowed"
            raise EventValidationError(name, answer, "too_long", allowed)
        if (problem := text_problem(answer, multiline=True)) is not None:
            raise EventValidationError(name, answer, "bad_character", f"the answer to {code}: {problem}")


#: each guard with the revision of the contract that brought it in (``revisions.py``): an event
#: judged by an earlier revision is not held to it — exactly what that revision checked
_GUARDS: tuple[tuple[int, Callable[[str], Callable[[Fields], None]]], ...] = (
    (1, check_times_storable),
    (1, check_lengths),
    (1, check_ids),
    (2, check_text),  # d862e90: free text's characters
    (2, check_answers),  # f5e8064: the Open311 answers
)


@functools.cache
def storable(event_type: str, revision: int = CURRENT) -> tuple[Callable[[Fields], None], ...]:
    """The limit guards of ``event_type`` under ``revision`` of the contract (built once per
    type and revision from its schema)."""
    return tuple(guard(event_type) for since, guard in _GUARDS if since <= revision)
