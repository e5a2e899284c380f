"""The ASGI app: routers mounted on one FastAPI app, errors rendered per part, OpenAPI served.

``create_app`` takes the configuration and opens nothing itself: its lifespan opens the
catalogue, the key stores, the producer and the projections when the server starts, and
closes them when it stops. The dashboard (``api/dashboard/``) mounts the same way as
``open311``, ``handling`` and ``cases``: ``app.include_router(...)``, reading
``app.state.backend``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Match
from starlette.types import ASGIApp, Scope

from civicloop import geography, log
from civicloop.api import (
    auth,
    cases,
    casework,
    catalogue,
    departments,
    events,
    feedback,
    handling,
    open311,
    openapi,
    worklist,
)
from civicloop.api.backend import Backend, backend
from civicloop.api.console.router import create_console_router
from civicloop.api.dashboard.router import create_dashboard_router
from civicloop.api.docs import create_docs_router
from civicloop.api.errors import ApiError, Problem
from civicloop.api.idempotency import Idempotency
from civicloop.api.keys import ApiKeyStore
from civicloop.api.middleware import AccessLog, BodyLimit, CleanTarget, SecurityHeaders, printable
from civicloop.api.open311_format import render, split_format
from civicloop.api.producing import Sender
from civicloop.api.progress import Progress
from civicloop.api.projected import NothingProjected, Projections
from civicloop.config import Config
from civicloop.privacy import KeyStore
from civicloop.projections.read_model.progress import projected_offsets
from civicloop.streams import kafka

_log = log.get(__name__)
#: largest request body accepted (an Open311 form with a 4,000-character description fits easily)
BODY_LIMIT = 64 * 1024


def open_backend(config: Config) -> Backend:
    """Everything the handlers share, opened; raises with a clear message when a part is missing."""
    services = catalogue.load(config.services)
    known = departments.load(config.departments, services)
    boundaries = geography.load(config.boundaries)
    address = kafka.bootstrap(config)
    kafka.ensure_topics(config, address)  # the API may start first: topics get civicloop's settings
    projections = Projections(config)

    def marks() -> dict[int, int]:
        try:
            return projected_offsets(projections.query, config.database, config.events_topic)
        except NothingProjected:
            return {}

    return Backend(
        config=config,
        catalogue=services,
        departments=known,
        keys=ApiKeyStore(config.api_keys),
        contacts=KeyStore(config.keystore),
        sender=Sender(address, config.events_topic),
        projections=projections,
        idempotency=Idempotency(config.api_keys.parent / "idempotency.sqlite"),
        progress=Progress(address, config.events_topic, marks),
        boundaries=boundaries,
    )


def create_app(config: Config) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.backend = open_backend(config)
        _log.info("api_started", topic=config.events_topic, database=config.database)
        try:
            yield
        finally:
            app.state.backend.close()

    app = FastAPI(
        title="civicloop API",
        version=version("civicloop"),
        summary="Open311 GeoReport v2 for citizen apps, a handling API for departments, keys with roles.",
        description="See docs/API.md. Keys: `civicloop apikey create --role ROLE`.",
        lifespan=lifespan,
        docs_url=None,  # served below from the pinned swagger-ui-py package, not a CDN
        redoc_url=None,
        servers=[{"url": config.api_public_url}],
    )
    app.state.public_url = config.api_public_url
    # Starlette's own trailing-slash redirect names the Host header's host and keeps the query
    # (an Open311 api_key with it): the 404 handler redirects instead (_http_error).
    app.router.redirect_slashes = False
    app.include_router(create_docs_router(app.title))
    app.include_router(open311.router)
    app.include_router(handling.router)
    app.include_router(worklist.router)  # before cases: /cases/{id}/actions is casework's
    app.include_router(casework.router)
    app.include_router(cases.router)
    app.include_router(events.router)
    app.include_router(
        create_dashboard_router(
            lambda request: backend(request).projections,
            auth.dashboard_reader,
            outline=lambda request: backend(request).boundaries,
        )
    )
    app.include_router(create_console_router())
    app.include_router(feedback.router)  # the public page behind a closed case's feedback link
    app.add_api_route("/health", health, methods=["GET"], summary="Liveness (no key, reveals nothing)")
    openapi.install(app, public_reads=config.open311_reads == "public")
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    # outermost last: headers on every answer, then the log, then the checks before routing
    app.add_middleware(BodyLimit, limit=BODY_LIMIT, render=error_response, timeout=config.api_body_timeout)
    app.add_middleware(CleanTarget, render=error_response)
    app.add_middleware(AccessLog)
    app.add_middleware(SecurityHeaders)
    return app


async def health() -> dict[str, str]:
    return {"status": "ok"}


def error_response(scope: Scope, error: ApiError) -> ASGIApp:
    """``error`` as the part of the API that ``scope``'s path belongs to shows errors."""
    path: str = scope["path"]
    if path.startswith("/open311/"):
        status = 403 if error.status == 401 else error.status  # Open311: 403 for a missing or bad key
        fmt = split_format(path.rsplit("/", 1)[-1])[1] or "xml"
        errors = [{"code": status, "description": p.description} for p in error.problems]
        return render("errors", errors, fmt, status)
    body: dict[str, Any] = {
        "errors": [{"code": p.code, "field": p.field, "description": p.description} for p in error.problems],
        **error.extra,
    }
    return JSONResponse(body, status_code=error.status)


async def _api_error(request: Request, error: ApiError) -> Response:
    if error.status >= 500:
        _log.warning("request_failed", path=request.url.path, status=error.status, error=str(error))
    return error_response(request.scope, error)  # type: ignore[return-value]


async def _validation_error(request: Request, error: RequestValidationError) -> Response:
    problems = [_problem(e) for e in error.errors()]
    return await _api_error(request, ApiError(400, problems))


def _without_slash(request: Request) -> Response | None:
    """A 308 to the same path without its trailing slash when that is a route: at the
    configured public URL (never the Host header), and without ``api_key`` in the query."""
    path: str = request.scope["path"]
    if len(path) < 2 or not path.endswith("/"):
        return None
    scope = {**request.scope, "path": path.rstrip("/")}
    if not any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
        return None
    query = [(k, v) for k, v in parse_qsl(request.url.query, keep_blank_values=True) if k != "api_key"]
    target = request.app.state.public_url + request.scope.get("root_path", "") + scope["path"]
    return RedirectResponse(target + ("?" + urlencode(query) if query else ""), status_code=308)


def _problem(error: dict[str, Any]) -> Problem:
    location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")]
    field = ".".join(location) or "body"
    if error.get("type") == "json_invalid":
        return Problem(f"the body is not valid JSON: {error.get('msg')}", "body", "bad_json")
    if error.get("type") == "model_attributes_type" and field == "body":
        return Problem(
            "the body must be a JSON object sent as Content-Type: application/json", "body", "bad_json"
        )
    shown = repr(error.get("input"))[:60]
    return Problem(f"{field}: {error.get('msg')} (got {shown})", field, str(error.get("type", "bad_value")))


async def _http_error(request: Request, error: HTTPException) -> Response:
    detail = str(error.detail) if error.detail else "request failed"
    path = printable(request.url.path)
    if error.status_code == 404:
        moved = None if "endpoint" in request.scope else _without_slash(request)
        if moved is not None:
            return moved
        detail = f"no such resource: {request.method} {path} (see /docs)"
    elif error.status_code == 405:
        detail = f"{request.method} is not allowed on {path}"
    return await _api_error(request, ApiError(error.status_code, [Problem(detail, None, "http")]))
