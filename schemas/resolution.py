"""Avro schema resolution as a checker: can a reader schema read what a writer schema wrote?

Avro's rules (promotions, unions, names and aliases, enum defaults), plus two house rules that
Avro allows but we do not: a reader dropping a writer field that had no default (old data
carried a required fact that new readers silently lose), and a change of logical type (same
bytes, different meaning). Schemas are expanded: every named type declared in place.
"""

from __future__ import annotations

from typing import Any

# Avro's promotions: writer type -> reader types that can read it.
_PROMOTIONS = {
    "int": {"long", "float", "double"},
    "long": {"float", "double"},
    "float": {"double"},
    "string": {"bytes"},
    "bytes": {"string"},
}
_NAMED = ("record", "enum", "fixed")


def _kind(s: Any) -> str:
    if isinstance(s, list):
        return "union"
    return s if isinstance(s, str) else str(s["type"])


def _short(s: Any) -> str:
    return str(s["name"]).rsplit(".", 1)[-1]


def _describe(s: Any) -> str:
    kind = _kind(s)
    return f"{kind} {_short(s)}" if kind in _NAMED else kind


def _names_match(reader: Any, writer: Any) -> bool:
    aliases = {str(a).rsplit(".", 1)[-1] for a in reader.get("aliases", [])}
    return _short(reader) == _short(writer) or _short(writer) in aliases


def _matches(reader: Any, writer: Any) -> bool:
    """Avro's test for whether a (non-union) reader branch can take a writer value."""
    rk, wk = _kind(reader), _kind(writer)
    if rk in _NAMED or wk in _NAMED:
        return rk == wk and _names_match(reader, writer)
    return rk == wk or rk in _PROMOTIONS.get(wk, set())


def _check_union(reader: Any, writer: Any, at: str) -> list[str]:
    writers = writer if isinstance(writer, list) else [writer]
    readers = reader if isinstance(reader, list) else [reader]
    problems = []
    for branch in writers:
        target = next((r for r in readers if _matches(r, branch)), None)
        if target is None:
            lost = _describe(branch)
            problems.append(f"{at}: writer union branch {lost} has no matching reader branch")
        else:
            problems += check_read(target, branch, at)
    return problems


def _check_record(reader: Any, writer: Any, at: str) -> list[str]:
    problems = []
    written = {f["name"]: f for f in writer["fields"]}
    for field in reader["fields"]:
        names = [field["name"], *field.get("aliases", [])]
        source = next((written.pop(n) for n in names if n in written), None)
        if source is not None:
            problems += check_read(field["type"], source["type"], f"{at}.{field['name']}")
        elif "default" not in field:
            problems.append(f"{at}.{field['name']}: field added without a default")
    for name, field in written.items():
        if "default" not in field:
            problems.append(f"{at}.{name}: field removed, and it had no default")
    return problems


def _check_enum(reader: Any, writer: Any, at: str) -> list[str]:
    missing = [s for s in writer["symbols"] if s not in reader["symbols"]]
    if missing and "default" not in reader:
        return [f"{at}: enum symbols {missing} removed and the reader enum has no default"]
    return []


def check_read(reader: Any, writer: Any, at: str = "") -> list[str]:
    """Problems a reader with schema ``reader`` has with data written with ``writer``."""
    if isinstance(reader, list) or isinstance(writer, list):
        return _check_union(reader, writer, at)
    if not _matches(reader, writer):
        if _kind(reader) == _kind(writer):
            return [f"{at}: {_describe(writer)} renamed to {_short(reader)} without an alias"]
        return [f"{at}: type changed from {_describe(writer)} to {_describe(reader)}"]
    problems = []
    w_logical, r_logical = _logical(writer), _logical(reader)
    if w_logical != r_logical:
        problems.append(f"{at}: logical type changed from {w_logical} to {r_logical}")
    kind = _kind(reader)
    if kind == "record":
        problems += _check_record(reader, writer, at)
    elif kind == "enum":
        problems += _check_enum(reader, writer, at)
    elif kind == "fixed" and reader["size"] != writer["size"]:
        problems.append(f"{at}: fixed size changed from {writer['size']} to {reader['size']}")
    elif kind in ("array", "map"):
        key = "items" if kind == "array" else "values"
        problems += check_read(reader[key], writer[key], f"{at}[]")
    return problems


def _logical(s: Any) -> str | None:
    return s.get("logicalType") if isinstance(s, dict) else None
