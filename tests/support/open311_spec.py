"""Open311 GeoReport v2 response checks, written from the spec (wiki.open311.org/GeoReport_v2
and /Service_Discovery), independent of civicloop's code.

One JSON Schema per response; an XML response is first read the way the spec maps XML to JSON
(the "Spark convention": a list container's repeated children become an array, an element with
children an object, text typed by the schema, an empty element null) and then checked against
the same schema. So XML and JSON answers are held to one definition.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import httpx
from jsonschema import Draft202012Validator

# w3c date-time *with* its time zone (the spec: "Timezone information ... must be included")
W3C = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
TEXT = {"type": "string"}
TEXT_OR_NULL = {"type": ["string", "null"]}
TIME = {"type": "string", "pattern": W3C}
TIME_OR_NULL = {"anyOf": [TIME, {"type": "null"}]}
NUMBER_OR_NULL = {"type": ["number", "null"]}


def _record(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "required": list(required),
        "properties": {**required, **(optional or {})},
        "additionalProperties": False,  # nothing outside the spec's fields
    }


def _array(item: dict[str, Any], min_items: int = 0) -> dict[str, Any]:
    return {"type": "array", "items": item, "minItems": min_items}


DISCOVERY = _record(
    {
        "changeset": TEXT,
        "contact": TEXT,
        "key_service": TEXT,
        "endpoints": _array(
            _record(
                {
                    "specification": {"const": "http://wiki.open311.org/GeoReport_v2"},
                    "url": TEXT,
                    "changeset": TEXT,
                    "type": {"enum": ["production", "test"]},
                    "formats": {**_array(TEXT, 1), "contains": {"const": "text/xml"}},
                }
            ),
            1,
        ),
    }
)
SERVICES = _array(
    _record(
        {
            "service_code": TEXT,
            "service_name": TEXT,
            "metadata": {"type": "boolean"},
            "type": {"enum": ["realtime", "batch", "blackbox"]},
        },
        {"description": TEXT_OR_NULL, "keywords": TEXT_OR_NULL, "group": TEXT_OR_NULL},
    ),
    1,
)
SERVICE_DEFINITION = _record(
    {
        "service_code": TEXT,
        "attributes": _array(
            _record(
                {
                    "variable": {"type": "boolean"},
                    "code": TEXT,
                    "datatype": {
                        "enum": ["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
                    },
                    "required": {"type": "boolean"},
                    "order": {"type": "integer", "minimum": 1},
                    "description": TEXT,
                },
                {
                    "datatype_description": TEXT_OR_NULL,
                    "values": _array(_record({"key": TEXT, "name": TEXT})),
                },
            )
        ),
    }
)
CREATED = _array(
    _record({"service_request_id": TEXT}, {"service_notice": TEXT_OR_NULL, "account_id": TEXT_OR_NULL}), 1
)
REQUESTS = _array(
    _record(
        {
            "service_request_id": TEXT,
            "status": {"enum": ["open", "closed"]},
            "service_code": TEXT,
            "requested_datetime": TIME,
        },
        {
            "status_notes": TEXT_OR_NULL,
            "service_name": TEXT_OR_NULL,
            "description": {"type": ["string", "null"], "maxLength": 4000},
            "agency_responsible": TEXT_OR_NULL,
            "service_notice": TEXT_OR_NULL,
            "updated_datetime": TIME_OR_NULL,
            "expected_datetime": TIME_OR_NULL,
            "address": TEXT_OR_NULL,
            "address_id": TEXT_OR_NULL,
            "zipcode": TEXT_OR_NULL,
            "lat": NUMBER_OR_NULL,
            "long": NUMBER_OR_NULL,
            "media_url": TEXT_OR_NULL,
        },
    )
)
TOKENS = _array(_record({"service_request_id": TEXT, "token": TEXT}), 1)
ERRORS = _array(_record({"code": {"type": "integer"}, "description": TEXT}), 1)

#: each document's root element and the schema it is checked against
DOCUMENTS = {
    "discovery": ("discovery", DISCOVERY),
    "services": ("services", SERVICES),
    "service_definition": ("service_definition", SERVICE_DEFINITION),
    "created": ("service_requests", CREATED),
    "requests": ("service_requests", REQUESTS),
    "tokens": ("service_requests", TOKENS),
    "errors": ("errors", ERRORS),
}
#: list containers of the spec and the name of their items
ITEMS = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
}
CONTENT_TYPES = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}


class SpecViolation(AssertionError):
    pass


def checked(response: httpx.Response, document: str, fmt: str) -> Any:
    """The response's data, after checking headers, encoding and shape against the spec."""
    root, schema = DOCUMENTS[document]
    if response.headers.get("content-type", "").lower() != CONTENT_TYPES[fmt]:
        raise SpecViolation(f"content-type {response.headers.get('content-type')!r} for {fmt}")
    data = from_xml(response.content, root, schema) if fmt == "xml" else json.loads(response.content)
    errors = sorted(Draft202012Validator(schema).iter_errors(data), key=lambda e: list(e.path))
    if errors:
        raise SpecViolation("; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5]))
    return data


def from_xml(body: bytes, root: str, schema: dict[str, Any]) -> Any:
    """An XML document read into JSON values (the spec's XML ↔ JSON mapping)."""
    declaration = body.split(b"\n", 1)[0].lower().replace(b"'", b'"')
    if not declaration.startswith(b'<?xml version="1.0" encoding="utf-8"?>'):
        raise SpecViolation(
            f"the XML declaration with encoding UTF-8 must come first, got {declaration[:60]!r}"
        )
    element = ET.fromstring(body)
    if element.tag != root:
        raise SpecViolation(f"root element <{element.tag}>, expected <{root}>")
    return _value(element, schema)


def _value(element: ET.Element, schema: dict[str, Any]) -> Any:
    if "{" in element.tag:
        raise SpecViolation(f"element {element.tag} has a namespace; the spec's XML has none")
    kinds = _kinds(schema)
    if "array" in kinds:
        item = ITEMS.get(element.tag)
        wrong = [child.tag for child in element if child.tag != item]
        if item is None or wrong:
            raise SpecViolation(f"<{element.tag}> must hold only <{item}> elements, found {wrong}")
        return [_value(child, schema.get("items", {})) for child in element]
    if "object" in kinds:
        tags = [child.tag for child in element]
        if len(set(tags)) != len(tags):
            raise SpecViolation(f"<{element.tag}> repeats a field: {tags}")
        properties = schema.get("properties", {})
        return {child.tag: _value(child, properties.get(child.tag, {})) for child in element}
    if len(element):
        raise SpecViolation(f"<{element.tag}> should hold text, not elements")
    return _typed(element.text, kinds)


def _kinds(schema: dict[str, Any]) -> set[str]:
    if "anyOf" in schema:
        return set().union(*(_kinds(s) for s in schema["anyOf"]))
    kind = schema.get(
        "type", "string" if "pattern" in schema or "enum" in schema or "const" in schema else None
    )
    return set(kind) if isinstance(kind, list) else {kind} if kind else set()


def _typed(text: str | None, kinds: set[str]) -> Any:
    if not text:
        return None if "null" in kinds else ""
    if "boolean" in kinds:
        if text not in ("true", "false"):
            raise SpecViolation(f"{text!r} is not true or false")
        return text == "true"
    if "integer" in kinds:
        return int(text)
    if "number" in kinds:
        return float(text)
    return text
