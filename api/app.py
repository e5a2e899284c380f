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

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Scope

from civicloop import geography, log
from civicloop.api import auth, cases, catalogue, departments, events, handling, open311
from civicloop.api.backend import Backend, backend
from civicloop.api.dashboard.router import create_dashboard_router
from civicloop.api.errors import ApiError, Problem
from civicloop.api.idempotency import Idempotency
from civicloop.api.keys import ApiKeyStore
from civicloop.api.middleware import AccessLog, BodyLimit
from civicloop.api.open311_format import render, split_format
from civicloop.api.producing import Sender
from civicloop.api.progress import Progress
from civicloop.api.projected import NothingProjected, Projections
from civicloop.config import Config
from civicloop.privacy import KeyStore
from civicloop.projections.tables.progress import projected_offsets
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
    )
    app.include_router(open311.router)
    app.include_router(handling.router)
    app.include_router(cases.router)
    app.include_router(events.router)
    app.include_router(
        create_dashboard_router(
            lambda request: backend(request).projections,
            auth.dashboard_reader,
            outline=lambda request: backend(request).boundaries,
        )
    )
    app.add_api_route("/health", health, methods=["GET"], summary="Liveness (no key, reveals nothing)")
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_middleware(BodyLimit, limit=BODY_LIMIT, render=error_response)
    app.add_middleware(AccessLog)
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
    if error.status_code == 404:
        detail = f"no such resource: {request.method} {request.url.path} (see /docs)"
    elif error.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    return await _api_error(request, ApiError(error.status_code, [Problem(detail, None, "http")]))
