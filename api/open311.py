"""Open311 GeoReport v2 under ``/open311/v2/`` (http://wiki.open311.org/GeoReport_v2).

XML is the spec's required format and JSON its mapping; the suffix chooses (``services.xml``,
``requests/ID.json``). Discovery and the service catalogue are public; the service requests
need a key (``api_key``): the spec leaves GETs open, but requests reveal what citizens
reported, and civicloop authenticates whatever reveals data (docs/API.md). POST needs the
``intake`` role (or ``supervisor``), the GETs any role.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from civicloop.api import auth, intake, service_requests
from civicloop.api.backend import Backend, backend, derived_id
from civicloop.api.catalogue import Service
from civicloop.api.errors import ApiError, Problem, not_found, shorten
from civicloop.api.open311_format import FORMATS, Format, render, w3c
from civicloop.api.requests_common import form, idempotency_key

SPEC = "http://wiki.open311.org/GeoReport_v2"
PREFIX = "/open311/v2"
MAX_SPAN = timedelta(days=90)
MAX_PAGE = 1000
SEARCH_PARAMS = frozenset({
    "service_request_id", "service_code", "start_date", "end_date", "status", "page", "page_size",
    "jurisdiction_id", "api_key",
})  # fmt: skip

router = APIRouter(prefix=PREFIX, tags=["Open311 GeoReport v2"])


def checked_format(fmt: str) -> Format:
    if fmt not in FORMATS:
        raise not_found(f"format {shorten(fmt)} is not served: use .xml or .json", "format")
    return fmt  # type: ignore[return-value]


@router.get("/discovery.{fmt}", summary="Service discovery: this endpoint, its formats, who to ask")
async def discovery(fmt: str, request: Request) -> Response:
    catalogue = backend(request).catalogue
    endpoint = {
        "specification": SPEC,
        "url": str(request.base_url).rstrip("/") + PREFIX,
        "changeset": catalogue.changeset,
        "type": "production",
        "formats": ["text/xml", "application/json"],
    }
    document = {
        "changeset": catalogue.changeset,
        "contact": catalogue.contact,
        "key_service": catalogue.key_service,
        "endpoints": [endpoint],
    }
    return render("discovery", document, checked_format(fmt))


@router.get("/services.{fmt}", summary="The service request types (from the service catalogue)")
async def services(fmt: str, request: Request) -> Response:
    return render("services", [_service(s) for s in backend(request).catalogue.services], checked_format(fmt))


@router.get("/services/{service_code}.{fmt}", summary="One service's definition: its attributes")
async def service_definition(service_code: str, fmt: str, request: Request) -> Response:
    out = checked_format(fmt)
    service = backend(request).catalogue.service(service_code)
    if service is None:
        raise not_found(f"service_code {shorten(service_code)} not found (see GET services)", "service_code")
    attributes = [
        {
            "variable": a.variable,
            "code": a.code,
            "datatype": a.datatype,
            "required": a.required,
            "datatype_description": a.datatype_description,
            "order": a.order,
            "description": a.description,
            "values": [{"key": v.key, "name": v.name} for v in a.values],
        }
        for a in sorted(service.attributes, key=lambda a: a.order)
    ]
    return render("service_definition", {"service_code": service.code, "attributes": attributes}, out)


@router.post(
    "/requests.{fmt}",
    summary="Report a problem (form-encoded: api_key, service_code, a location, optional contact)",
    status_code=200,
)
async def post_request(fmt: str, request: Request) -> Response:
    out = checked_format(fmt)
    api = backend(request)
    body = await form(request)
    key = auth.authenticate(api.keys, auth.presented_token(request, body))
    auth.require(key, auth.REPORT)
    request.state.key_id = key.key_id
    submission = intake.parse(body.multi_items(), api.catalogue)
    retry = idempotency_key(request)
    case_id = "sr-" + derived_id(key, retry, "open311").replace("-", "")[:24]
    event_id = derived_id(key, retry, "open311", case_id, "CaseReported")
    if api.sender.already_sent(event_id) is None:
        # the key store is SQLite (a commit for a new reporter): off the event loop
        who = await run_in_threadpool(api.with_contacts, lambda keys: intake.reporter(submission, keys))
        event = intake.reported(
            submission, who, case_id=case_id, event_id=event_id, source=api.source(key), now=datetime.now(UTC)
        )
        await api.sender.send(event)
    answer = {
        "service_request_id": case_id,
        "service_notice": submission.service.notice,
        "account_id": submission.account_id,
    }
    return render("service_requests", [answer], out)


@router.get("/requests.{fmt}", summary="Search service requests (default: the last 90 days, at most 1,000)")
async def get_requests(fmt: str, request: Request) -> Response:
    out = checked_format(fmt)
    api = _reader(request)
    query = _search(request, api)
    found = await run_in_threadpool(service_requests.search, api.projections, query, api.catalogue)
    return render("service_requests", [_dated(r) for r in found], out)


@router.get("/requests/{service_request_id}.{fmt}", summary="One service request (a one-element array)")
async def get_request(service_request_id: str, fmt: str, request: Request) -> Response:
    out = checked_format(fmt)
    api = _reader(request)
    found = await _by_ids(api, (service_request_id,))
    if not found:
        raise not_found(f"service_request_id {shorten(service_request_id)} not found", "service_request_id")
    return render("service_requests", [_dated(r) for r in found], out)


@router.get("/tokens/{token}.{fmt}", summary="service_request_id from a token (requests here are realtime)")
async def get_token(token: str, fmt: str, request: Request) -> Response:
    # Every service is realtime: POST answers the service_request_id itself, so the only
    # token this endpoint knows is a service_request_id.
    out = checked_format(fmt)
    api = _reader(request)
    found = await _by_ids(api, (token,))
    if not found:
        raise not_found(f"token {shorten(token)} not found: requests here are realtime and get a "
                        "service_request_id at once", "token")  # fmt: skip
    return render("service_requests", [{"service_request_id": token, "token": token}], out)


def _reader(request: Request) -> Backend:
    api = backend(request)
    key = auth.authenticate(api.keys, auth.presented_token(request))
    auth.require(key, auth.READ)
    request.state.key_id = key.key_id
    return api


async def _by_ids(api: Backend, ids: tuple[str, ...]) -> list[dict[str, Any]]:
    query = service_requests.Query(start=datetime.now(UTC), end=datetime.now(UTC), ids=ids)
    return await run_in_threadpool(service_requests.search, api.projections, query, api.catalogue)


def _service(service: Service) -> dict[str, Any]:
    return {
        "service_code": service.code,
        "service_name": service.name,
        "description": service.description,
        "metadata": service.metadata,
        "type": "realtime",
        "keywords": ", ".join(service.keywords),
        "group": service.group,
    }


def _dated(found: dict[str, Any]) -> dict[str, Any]:
    return {k: w3c(v) if isinstance(v, datetime) else v for k, v in found.items()}


def _search(request: Request, api: Backend) -> service_requests.Query:
    """The GET requests filters, each checked; every problem is named at once."""
    params = request.query_params
    known = ", ".join(sorted(SEARCH_PARAMS))
    problems = [
        Problem(f"unknown parameter {shorten(name)} (known: {known})", name)
        for name in params
        if name not in SEARCH_PARAMS
    ]
    values = {name: ",".join(params.getlist(name)) for name in SEARCH_PARAMS if name in params}
    _check_jurisdiction(api, values.get("jurisdiction_id"))
    ids = _listed(values.get("service_request_id"))
    page = _number(values, "page", 1, 10**6, problems)
    size = _number(values, "page_size", MAX_PAGE, MAX_PAGE, problems)
    start, end = _period(values, problems)
    codes = _listed(values.get("service_code"))
    categories = None
    if codes is not None:
        unknown = [c for c in codes if api.catalogue.service(c) is None]
        if unknown:
            problems.append(
                Problem(f"service_code {', '.join(map(shorten, unknown))} not found", "service_code")
            )
        categories = tuple(s.category for c in codes if (s := api.catalogue.service(c)))
    statuses = _listed(values.get("status")) or ("open", "closed")
    if not set(statuses) <= {"open", "closed"}:
        problems.append(Problem(f"status {shorten(values['status'])}: use open, closed or both", "status"))
    if ids is not None and len(ids) > MAX_PAGE:
        problems.append(Problem(f"at most {MAX_PAGE} service_request_id at once", "service_request_id"))
    if problems:
        raise ApiError(400, problems)
    return service_requests.Query(start, end, categories, tuple(statuses), page, size, ids)


def _check_jurisdiction(api: Backend, given: str | None) -> None:
    wanted = api.catalogue.jurisdiction_id
    if given and wanted and given != wanted:
        raise not_found(f"jurisdiction_id {shorten(given)} not found: this endpoint serves {wanted!r}",
                        "jurisdiction_id")  # fmt: skip


def _listed(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = tuple(v.strip() for v in value.split(",") if v.strip())
    return items or None


def _number(values: dict[str, str], name: str, default: int, most: int, problems: list[Problem]) -> int:
    text = values.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or not 1 <= int(text) <= most:
        problems.append(Problem(f"{name} {shorten(text)} must be a whole number from 1 to {most}", name))
        return default
    return int(text)


def _period(values: dict[str, str], problems: list[Problem]) -> tuple[datetime, datetime]:
    """[start, end] of requested_datetime: default the last 90 days, never more than 90."""
    given_start = _moment(values, "start_date", problems)
    given_end = _moment(values, "end_date", problems)
    if given_start is None:
        end = given_end or datetime.now(UTC)
        start = end - MAX_SPAN
    else:
        start, end = given_start, given_end or given_start + MAX_SPAN
    if end < start:
        problems.append(Problem("end_date is before start_date", "end_date"))
    elif end - start > MAX_SPAN:
        problems.append(Problem("start_date to end_date may not span more than 90 days", "end_date"))
    return start, end


def _moment(values: dict[str, str], name: str, problems: list[Problem]) -> datetime | None:
    text = values.get(name, "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        problems.append(Problem(f"{name} {shorten(text)} is not a W3C date-time with a time zone, "
                                "e.g. 2010-01-01T00:00:00Z", name))  # fmt: skip
        return None
    return moment.astimezone(UTC)
