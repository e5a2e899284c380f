"""Open311 GeoReport v2 under ``/open311/v2/`` (http://wiki.open311.org/GeoReport_v2).

XML is the spec's required format and JSON its mapping; the suffix chooses (``services.xml``,
``requests/ID.json``). Every GET answers without a key, as the spec says and as ordinary
client libraries expect (``CIVICLOOP_OPEN311_READS=key`` makes service requests and tokens
need one); a key that is sent must be valid. A public read withholds what reporters of a
private service wrote and sent (``service_requests``); no read carries a contact. POST needs
the ``intake`` role (or ``supervisor``). ``jurisdiction_id`` is checked alike everywhere.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from civicloop.api import auth, intake, open311_query, service_requests, usecases
from civicloop.api.backend import Backend, backend
from civicloop.api.catalogue import Catalogue, Service
from civicloop.api.errors import ApiError, Problem, not_found, shorten
from civicloop.api.open311_format import FORMATS, Format, render, w3c
from civicloop.api.requests_common import form, idempotency_key

SPEC = "http://wiki.open311.org/GeoReport_v2"
PREFIX = "/open311/v2"

router = APIRouter(prefix=PREFIX, tags=["Open311 GeoReport v2"])


def checked_format(fmt: str) -> Format:
    if fmt not in FORMATS:
        raise not_found(f"format {shorten(fmt)} is not served: use .xml or .json", "format")
    return fmt  # type: ignore[return-value]


@router.get("/discovery.{fmt}", summary="Service discovery: this endpoint, its formats, who to ask")
async def discovery(fmt: str, request: Request) -> Response:
    catalogue = _catalogue(request)
    endpoint = {
        "specification": SPEC,
        "url": request.app.state.public_url + PREFIX,  # configured, never the Host header
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
    return render("services", [_service(s) for s in _catalogue(request).services], checked_format(fmt))


@router.get("/services/{service_code}.{fmt}", summary="One service's definition: its attributes")
async def service_definition(service_code: str, fmt: str, request: Request) -> Response:
    out = checked_format(fmt)
    service = _catalogue(request).service(service_code)
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
    key = auth.caller(request, auth.REPORT, body)
    submission = intake.parse(body.multi_items(), api.catalogue)
    intake.note_language(submission, request.headers.get("accept-language", ""))
    intake.place(submission, api.boundaries, accept_outside=api.config.out_of_area == "accept")
    asked = sorted((name, value) for name, value in body.multi_items() if name != "api_key")
    report = usecases.Report(submission, key, idempotency_key(request), asked, api.source(key))
    reported = await usecases.report_problem(usecases.writes(api), report)
    answer = {
        "service_request_id": reported.case_id,
        "service_notice": submission.service.notice,
        "account_id": submission.account_id,
    }
    return render("service_requests", [answer], out)


@router.get("/requests.{fmt}", summary="Search service requests (default: the last 90 days, at most 1,000)")
async def get_requests(fmt: str, request: Request) -> Response:
    out = checked_format(fmt)
    api, public = _reader(request)
    query = open311_query.parse(request.query_params, api.catalogue)
    await _check_codes(api, query)
    found = await run_in_threadpool(service_requests.search, api.projections, query, api.catalogue, public)
    return render("service_requests", [_dated(r) for r in found], out)


@router.get("/requests/{service_request_id}.{fmt}", summary="One service request (a one-element array)")
async def get_request(service_request_id: str, fmt: str, request: Request) -> Response:
    out = checked_format(fmt)
    api, public = _reader(request)
    found = await _by_ids(api, (service_request_id,), public)
    if not found:
        raise not_found(f"service_request_id {shorten(service_request_id)} not found", "service_request_id")
    return render("service_requests", [_dated(r) for r in found], out)


@router.get("/tokens/{token}.{fmt}", summary="service_request_id from a token (requests here are realtime)")
async def get_token(token: str, fmt: str, request: Request) -> Response:
    # Every service is realtime: POST answers the service_request_id itself, so the only
    # token this endpoint knows is a service_request_id.
    out = checked_format(fmt)
    api, _ = _reader(request)
    found = await _by_ids(api, (token,), public=True)
    if not found:
        raise not_found(
            f"token {shorten(token)} not found: requests here are realtime and get a "
            "service_request_id at once",
            "token",
        )
    return render("service_requests", [{"service_request_id": token, "token": token}], out)


def _catalogue(request: Request) -> Catalogue:
    """The catalogue, once the request's ``jurisdiction_id`` (if any) is found to be its own."""
    catalogue = backend(request).catalogue
    open311_query.check_jurisdiction(catalogue, _jurisdiction(request))
    return catalogue


def _jurisdiction(request: Request) -> str | None:
    given = request.query_params.getlist("jurisdiction_id")
    return ",".join(given) if given else None


def _reader(request: Request) -> tuple[Backend, bool]:
    """The backend for a read of service requests, and whether it is public (no key sent).

    A key that is sent must be valid and may read: a client that sends a wrong key hears so
    rather than silently getting the public view.
    """
    api = backend(request)
    open311_query.check_jurisdiction(api.catalogue, _jurisdiction(request))
    if auth.presented_token(request) is None and api.config.open311_reads == "public":
        return api, True
    auth.caller(request, auth.READ)
    return api, False


async def _check_codes(api: Backend, query: service_requests.Query) -> None:
    """400 for a service_code that is neither a service nor the category of any case."""
    outside = tuple(c for c in query.categories or () if api.catalogue.by_category(c) is None)
    if not outside:
        return
    unknown = await run_in_threadpool(service_requests.unknown_categories, api.projections, outside)
    if unknown:
        raise ApiError(
            400,
            [
                Problem(
                    f"service_code {', '.join(map(shorten, unknown))} not found (see GET services)",
                    "service_code",
                )
            ],
        )


async def _by_ids(api: Backend, ids: tuple[str, ...], public: bool) -> list[dict[str, Any]]:
    query = service_requests.Query(start=datetime.now(UTC), end=datetime.now(UTC), ids=ids)
    return await run_in_threadpool(service_requests.search, api.projections, query, api.catalogue, public)


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
