"""The OpenAPI document as the API actually behaves, not as FastAPI guesses it.

FastAPI derives the document from the handlers' signatures: it cannot see the Open311 form
(read by hand, ``api/intake.py``) or query filters (``api/open311_query.py``), the keys
(``api/auth.py``), the headers read from the request, or the errors the app renders itself,
and it declares its own ``422`` (a pydantic error list) on every route, where this API answers
``400`` for a malformed request and ``422`` only on writes, in its own error body. This module
adds what FastAPI cannot see — security schemes, the form fields and query parameters,
``Idempotency-Key`` and ``Prefer``, the status codes answered with their error bodies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from civicloop.api import intake, open311_query
from civicloop.api.attributes import ATTRIBUTE_LIMIT
from civicloop.api.intake import LIMITS

#: how a key may be sent: the API accepts all three (api/auth.py)
SECURITY_SCHEMES = {
    "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "ApiKeyQuery": {
        "type": "apiKey",
        "in": "query",
        "name": "api_key",
        "description": "As Open311 clients send it (a form field `api_key` also works on POST requests).",
    },
    "Bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer clk_…"},
}
KEYED: list[dict[str, list[str]]] = [{name: []} for name in SECURITY_SCHEMES]
#: the Open311 reads: public unless the deployment requires a key (CIVICLOOP_OPEN311_READS)
OPEN311_READS = frozenset(
    {
        "/open311/v2/requests.{fmt}",
        "/open311/v2/requests/{service_request_id}.{fmt}",
        "/open311/v2/tokens/{token}.{fmt}",
    }
)
#: the paths anyone may read (no key)
PUBLIC_PATHS = frozenset(
    {
        "/health",
        "/open311/v2/discovery.{fmt}",
        "/open311/v2/services.{fmt}",
        "/open311/v2/services/{service_code}.{fmt}",
        "/dashboard",
        "/dashboard/cases/{case_id}",
        "/dashboard/static/{name}",
        "/console",
        "/console/search",
        "/console/cases/{case_id}",
        "/console/static/{name}",
    }
)
ERRORS = {
    "type": "object",
    "description": "Every problem with the request, each naming its field.",
    "required": ["errors"],
    "properties": {
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["code", "description"],
                "properties": {
                    "code": {"type": "string", "description": "Stable: clients branch on it."},
                    "field": {"type": ["string", "null"], "description": "The field, header or part."},
                    "description": {"type": "string", "description": "For people: names the value."},
                },
            },
        },
        "reason": {"type": "string", "description": "On 409: the guard's code, e.g. illegal_transition."},
    },
}
OPEN311_ERRORS = {
    "type": "array",
    "description": "Open311's error array (`<errors><error>…` in XML), one per problem.",
    "items": {
        "type": "object",
        "required": ["code", "description"],
        "properties": {"code": {"type": "integer"}, "description": {"type": "string"}},
    },
}
WHY = {
    "400": "Bad input: a field, parameter, header, path or body, each named (text with control "
    "characters, bytes that are not UTF-8, numbers that are not ASCII, finite and in range).",
    "401": "No API key, or an unknown or revoked one.",
    "403": "The key's role may not do this (under /open311/ also a missing or bad key).",
    "404": "No such case, request, service, jurisdiction, route or format.",
    "408": "The request body was not whole in time (CIVICLOOP_API_BODY_TIMEOUT).",
    "409": "Illegal for the case as projected: `reason` is the guard's code.",
    "413": "The request body is over 64 KiB.",
    "422": "Well-formed, but names what does not exist (a department, the case a duplicate is "
    "of) or reuses an Idempotency-Key with a different request (idempotency_key_reused).",
    "503": "Kafka or the projections cannot be reached: retry (with the same Idempotency-Key).",
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "1-200 printable ASCII characters (e.g. a UUID): the same call sent again with "
    "the same header is one event.",
    "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,200}$"},
}
PREFER = {
    "name": "Prefer",
    "in": "header",
    "required": False,
    "description": "RFC 7240 preferences (e.g. `wait=N`, see docs/API.md); "
    "preferences the API does not know are ignored, as the RFC says.",
    "schema": {"type": "string"},
}
#: the Open311 query parameters of GET requests, described (open311_query.SEARCH_PARAMS lists them)
SEARCH = {
    "service_request_id": "Comma-separated ids (at most 1,000); overrides every other filter.",
    "service_code": "Comma-separated service codes.",
    "start_date": "W3C date-time with a zone; on requested_datetime.",
    "end_date": "W3C date-time with a zone; at most 90 days after start_date.",
    "status": "open, closed, or both comma-separated.",
    "page": "From 1 (ASCII digits).",
    "page_size": "1-1,000 (default 1,000).",
    "jurisdiction_id": "Optional; another jurisdiction than the catalogue's is 404.",
}
FORM_FIELDS = {
    "service_code": "Required: a code from GET services.",
    "jurisdiction_id": "Optional; another jurisdiction than the catalogue's is 404.",
    "lat": "WGS84 latitude, -90 to 90, ASCII decimal (with long).",
    "long": "WGS84 longitude, -180 to 180, ASCII decimal (with lat).",
    "address_string": "The location as an address (or lat/long, or address_id).",
    "address_id": "The location as an address id.",
    "email": "The reporter's e-mail (sealed, never stored in plaintext).",
    "device_id": "The reporting device (sealed); makes the channel `app`.",
    "account_id": "The reporter's account (sealed); echoed in the answer.",
    "first_name": "Sealed.",
    "last_name": "Sealed.",
    "phone": "Sealed.",
    "description": "What is wrong; may hold line breaks.",
    "media_url": "An http(s) URL of a photo.",
}


def install(app: FastAPI, public_reads: bool) -> None:
    """Make ``app.openapi()`` return the completed document (built once); ``public_reads``:
    Open311's GETs need no key."""
    cached: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if not cached:
            cached.update(complete(_generated(app), public_reads))
        return cached

    app.openapi = openapi  # type: ignore[method-assign]


def _generated(app: FastAPI) -> dict[str, Any]:
    return get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
        servers=app.servers,
    )


def complete(document: dict[str, Any], public_reads: bool = True) -> dict[str, Any]:
    """``document`` (FastAPI's) with what the API really takes and answers."""
    public = PUBLIC_PATHS | (OPEN311_READS if public_reads else frozenset())
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas["Errors"] = ERRORS
    schemas["Open311Errors"] = OPEN311_ERRORS
    components["securitySchemes"] = SECURITY_SCHEMES
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            _operation(path, method, operation, path in public)
    return document


def _operation(path: str, method: str, operation: dict[str, Any], public: bool) -> None:
    open311 = path.startswith("/open311/")
    keyed = not public or (method == "post")
    if keyed:
        operation["security"] = KEYED
    parameters: list[dict[str, Any]] = operation.setdefault("parameters", [])
    for parameter in parameters:
        if parameter["name"] == "fmt":
            parameter["schema"] = {"type": "string", "enum": ["xml", "json"]}
            parameter["description"] = "The answer's format: xml (Open311's own) or json."
    edits: Callable[[str, str, dict[str, Any]], None] | None = _EDITS.get((method, path))
    if edits is not None:
        edits(path, method, operation)
    if method == "post" and not path.endswith("/requests.{fmt}"):  # the handling actions
        _add(parameters, IDEMPOTENCY_KEY, PREFER)
    if not parameters:
        del operation["parameters"]
    codes = ["400", "404"]
    if keyed:
        codes += ["403"] if open311 else ["401", "403"]
    if method == "post":
        codes += ["408", "413", "422", "503"] + ([] if open311 else ["409"])
    elif keyed:
        codes += ["503"]
    responses: dict[str, Any] = operation["responses"]
    responses.pop("422", None)  # FastAPI's: pydantic's error list, never answered
    schema = {"$ref": "#/components/schemas/" + ("Open311Errors" if open311 else "Errors")}
    media = ["application/json", "text/xml"] if open311 else ["application/json"]
    for code in sorted(set(codes)):
        description = responses.get(code, {}).get("description") or WHY[code]
        responses[code] = {"description": description, "content": {m: {"schema": schema} for m in media}}


def _open311_post(path: str, method: str, operation: dict[str, Any]) -> None:
    properties: dict[str, Any] = {"api_key": {"type": "string", "description": "The key (or a header)."}}
    for name, description in FORM_FIELDS.items():
        properties[name] = {
            "type": "string",
            "maxLength": LIMITS.get(name, intake.DEFAULT_LIMIT),
            "description": description,
        }
    form = {
        "type": "object",
        "required": ["service_code"],
        "properties": properties,
        "patternProperties": {
            r"^attribute\[[^\[\]]{1,100}\](\[\])?$": {
                "type": "string",
                "maxLength": ATTRIBUTE_LIMIT,
                "description": "An answer to the service's attribute CODE (GET services/{code}); "
                "attribute[CODE][] repeated for a multivaluelist.",
            }
        },
        "additionalProperties": False,
    }
    operation["requestBody"] = {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {"schema": form},
            "multipart/form-data": {"schema": form},
        },
    }
    _add(operation["parameters"], IDEMPOTENCY_KEY)


def _open311_search(path: str, method: str, operation: dict[str, Any]) -> None:
    for name in sorted(open311_query.SEARCH_PARAMS - {"api_key"}):
        _add(
            operation["parameters"],
            {
                "name": name,
                "in": "query",
                "required": False,
                "description": SEARCH.get(name, ""),
                "schema": {"type": "string"},
            },
        )


def _add(parameters: list[dict[str, Any]], *added: dict[str, Any]) -> None:
    """``added`` where no parameter of the same name and place is declared yet."""
    for parameter in added:
        if not any((p["name"], p["in"]) == (parameter["name"], parameter["in"]) for p in parameters):
            parameters.append(parameter)


IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "The `ETag` of an earlier answer: 304 while nothing new has been projected.",
    "schema": {"type": "string"},
}


def _conditional(path: str, method: str, operation: dict[str, Any]) -> None:
    """The console's polled reads: ``If-None-Match`` and, for the worklist, its CSV form."""
    _add(operation["parameters"], IF_NONE_MATCH)
    if path == "/api/v1/worklist":
        operation["responses"]["200"].setdefault("content", {})["text/csv"] = {
            "schema": {"type": "string", "description": "With format=csv: the whole list."}
        }


_EDITS: dict[tuple[str, str], Callable[[str, str, dict[str, Any]], None]] = {
    ("post", "/open311/v2/requests.{fmt}"): _open311_post,
    ("get", "/open311/v2/requests.{fmt}"): _open311_search,
    ("get", "/api/v1/worklist"): _conditional,
    ("get", "/api/v1/cases/{case_id}/actions"): _conditional,
}
