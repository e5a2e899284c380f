"""Answers to a service's questions (Open311 ``attribute[CODE]``), checked against its
definition: known codes, required answers, one value unless a ``multivaluelist``, list keys,
numbers, ISO 8601 datetimes, no line breaks in a ``string``, none for information-only ones."""

from __future__ import annotations

from datetime import datetime

from civicloop.api import text
from civicloop.api.catalogue import LISTS, Attribute, Service
from civicloop.api.errors import Problem, shorten
from civicloop.schemas.limits import MAX_TEXT

ATTRIBUTE_LIMIT = MAX_TEXT["attributes"]  # characters per value, as the event contract holds them


def checked(
    service: Service, answers: dict[str, list[str]], multi: set[str]
) -> tuple[dict[str, list[str]], list[Problem]]:
    """(the answers kept, by code; the problems, one per attribute). ``answers`` are the
    values sent per code; ``multi`` the codes sent as ``attribute[CODE][]``."""
    kept: dict[str, list[str]] = {}
    problems = []
    for code, values in answers.items():
        attribute = service.attribute(code)
        name = f"attribute[{code}]"
        if attribute is None:
            known = ", ".join(a.code for a in service.attributes if a.variable) or "none"
            text = f"{name}: service {service.code} has no attribute {code!r} (known: {known})"
            problems.append(Problem(text, name))
            continue
        checked = _answer(attribute, [v.strip() for v in values if v.strip()], code in multi)
        if isinstance(checked, Problem):
            problems.append(checked)
        elif checked:
            kept[code] = checked
    for attribute in service.attributes:
        answered = attribute.code in kept or any(p.field == f"attribute[{attribute.code}]" for p in problems)
        if attribute.variable and attribute.required and not answered:
            problems.append(
                Problem(
                    f"attribute[{attribute.code}] is required for service {service.code}: "
                    f"{attribute.description}",
                    f"attribute[{attribute.code}]",
                )
            )
    return kept, problems


def _answer(attribute: Attribute, values: list[str], as_list: bool) -> list[str] | Problem:
    """The answer's values as text, or the problem with them (naming datatype and value)."""
    name = f"attribute[{attribute.code}]"
    if not attribute.variable:
        return Problem(f"{name} is information only and takes no answer", name)
    if any(len(v) > ATTRIBUTE_LIMIT for v in values):
        return Problem(f"{name}: a value is longer than {ATTRIBUTE_LIMIT} characters", name)
    if len(values) > 1 and attribute.datatype != "multivaluelist":
        return Problem(f"{name} is a {attribute.datatype} and takes one value, got {len(values)}", name)
    if as_list and attribute.datatype != "multivaluelist":
        text = f"{name}[] is for multivaluelist attributes; {attribute.code} is a {attribute.datatype}"
        return Problem(text, name)
    for value in values:
        wrong = _datatype_problem(attribute, value)
        if wrong:
            return Problem(f"{name} = {shorten(value)}: {wrong}", name)
    return values


def _datatype_problem(attribute: Attribute, value: str) -> str | None:
    kind = attribute.datatype
    if kind in LISTS:
        keys = [v.key for v in attribute.values]
        return None if value in keys else f"not one of the keys {', '.join(keys)}"
    if kind == "number":
        return None if text.number(value) is not None else "not a number (finite, in ASCII digits)"
    if kind == "datetime":
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return "not an ISO 8601 date or date-time"
        return None
    if kind == "string" and ("\n" in value or "\r" in value):
        return "a string has no line breaks (use a text attribute)"
    return text.problem(value, multiline=kind == "text")
