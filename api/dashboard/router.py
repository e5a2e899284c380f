"""The dashboard's routes: two pages, their scripts, and the JSON figures they draw.

``create_dashboard_router`` makes an ``APIRouter`` to mount on civicloop's HTTP server
(``app.include_router(...)``). It opens nothing itself: ``source(request)`` gives the
projections to read (``database`` and a read-only ``query``), ``require_reader`` is the
FastAPI dependency that checks the caller's key and role, and ``outline(request)`` gives the
boundaries the map is drawn on (by default the configured ones, ``CIVICLOOP_BOUNDARIES``).
Every JSON route depends on ``require_reader``; the pages and scripts carry no data, so a
browser can load them before the person has entered a key (the page sends it as
``X-API-Key`` with each request for figures). A reader may fix filters for the request
(``request.state.dashboard_filters``, e.g. a department key's own department): every figure
and the filters' choices are then narrowed to them, and asking for another value is 403.

JSON routes (all GET, under ``{prefix}/api``; ``from``/``to`` are ISO dates or times, UTC
without an offset, ``to`` exclusive, as in ``civicloop metrics``; filters ``department``,
``category``, ``district``, ``channel``): ``headline``, ``trend`` (``step=day|week``),
``backlog``, ``league``, ``problems``, ``places``, ``signals`` (``page``, from 1),
``choices`` and ``cases/{case_id}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from importlib.metadata import version
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response

from civicloop import geography
from civicloop.api import pages
from civicloop.api.dashboard import assets, charts, figures
from civicloop.api.requests_common import utc
from civicloop.projections.read_model import cases
from civicloop.projections.store.base import Params, Row


class Source(Protocol):
    """The projections a request reads: issue 9's ``Projections`` is one."""

    database: str

    def query(self, sql: str, params: Params | None = None) -> list[Row]:
        """Run a read-only SELECT."""


SourceFor = Callable[[Request], Source]
OutlineFor = Callable[[Request], geography.Boundaries]
Text = Annotated[str | None, Query(max_length=200)]


def chosen_view(
    request: Request,
    t_from: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    t_to: Annotated[str | None, Query(alias="to", max_length=40)] = None,
    department: Text = None,
    category: Text = None,
    district: Text = None,
    channel: Text = None,
) -> figures.View:
    start, end = figures.default_period()
    chosen = {"department": department, "category": category, "district": district, "channel": channel}
    chosen |= _fixed(request, chosen)
    try:
        return figures.View(
            _moment(t_from, "from") or start,
            _moment(t_to, "to") or end,
            {dim: value for dim, value in chosen.items() if value},
        )
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None


#: the period and filters a request asks for (``from``, ``to``, ``department``, …)
View = Annotated[figures.View, Depends(chosen_view)]


def create_dashboard_router(
    source: SourceFor,
    require_reader: Callable[..., Any],
    prefix: str = "/dashboard",
    outline: OutlineFor | None = None,
) -> APIRouter:
    boundaries_of = outline or (lambda request: geography.configured())
    router = APIRouter(prefix=prefix, tags=["dashboard"])
    data = APIRouter(prefix="/api", dependencies=[Depends(require_reader)])

    @router.get("", response_class=HTMLResponse, summary="The dashboard (a page; figures need a key)")
    def dashboard_page() -> HTMLResponse:
        return HTMLResponse(assets.page("dashboard.html", base=prefix, version=version("civicloop")))

    @router.get("/cases/{case_id}", response_class=HTMLResponse, summary="One case's page and timeline")
    def case_page(case_id: Annotated[str, Path(max_length=200)]) -> HTMLResponse:
        return HTMLResponse(assets.page("case.html", base=prefix, version=version("civicloop")))

    @router.get("/static/{name}", summary="The pages' scripts and styles, plotly.js included")
    def static(name: Annotated[str, Path(max_length=60)]) -> FileResponse:
        return pages.served(assets.static_file(name), name)

    def computed(request: Request, compute: Callable[[Any, str], Any]) -> Any:
        projections = source(request)
        try:
            return compute(projections.query, projections.database)
        except LookupError as exc:  # nothing projected yet (issue 9's Projections says so)
            raise HTTPException(404, f"nothing has been projected yet: {exc}") from None
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None

    def read(request: Request, compute: Callable[[Any, str], Any]) -> Response:
        return _json(computed(request, compute))

    @data.get("/headline", summary="Headline figures against the previous period")
    def headline(request: Request, v: View) -> Response:
        return read(request, lambda q, db: figures.headline(q, db, v))

    @data.get("/trend", summary="Reported, closed and on-time closure per day or week")
    def trend(
        request: Request, v: View, step: Annotated[str | None, Query(pattern="^(day|week)$")] = None
    ) -> Response:
        return read(request, lambda q, db: _charted(figures.trend(q, db, v, step), charts.trend))

    @data.get("/backlog", summary="Open cases by age and overdue state at the end of the period")
    def backlog(request: Request, v: View) -> Response:
        return read(request, lambda q, db: _charted(figures.backlog(q, db, v), charts.backlog))

    @data.get("/league", summary="Departments ranked by on-time closure (the monthly assessment)")
    def league(request: Request, v: View) -> Response:
        return read(request, lambda q, db: figures.league(q, db, v))

    @data.get("/problems", summary="Top categories by cases reported, against the previous period")
    def problems(request: Request, v: View) -> Response:
        return read(request, lambda q, db: _charted(figures.problems(q, db, v), charts.problems))

    @data.get("/places", summary="Where the period's cases are, coloured by state")
    def places(request: Request, v: View) -> Response:
        def drawn(q: Any, db: str) -> dict[str, Any]:
            found = figures.places(q, db, v)  # the points go out once, inside the figure
            figure = charts.places(found, boundaries_of(request))
            return {"total": found["total"], "shown": len(found["cases"]), "figure": figure}

        return read(request, drawn)

    @data.get("/signals", summary="Surges and recurring problems raised in the period, latest first, a page")
    def signals(request: Request, v: View, page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> Response:
        return read(
            request, lambda q, db: figures.page(figures.signals(q, db, v)["rows"], page, figures.SIGNALS_PAGE)
        )

    @data.get("/choices", summary="The values each filter offers")
    def choices(request: Request) -> Response:
        offered = computed(request, lambda q, db: cases.choices(q, db))
        return _json(offered | {dim: [value] for dim, value in _fixed(request, {}).items()})

    @data.get("/cases/{case_id}", summary="One case: lifecycle, tasks, timeline (no contact)")
    def case(request: Request, case_id: Annotated[str, Path(min_length=1, max_length=200)]) -> Response:
        found = computed(request, lambda q, db: cases.case(q, db, case_id))
        if found is None:
            raise HTTPException(404, f"case {case_id!r} not found (not reported, or not projected yet)")
        return _json({"case": found})

    router.include_router(data)
    return router


def _fixed(request: Request, chosen: dict[str, str | None]) -> dict[str, str]:
    """The filters the reader fixed for this request; 403 when another value was asked for."""
    fixed: dict[str, str] = getattr(request.state, "dashboard_filters", None) or {}
    for dim, value in fixed.items():
        if chosen.get(dim) not in (None, "", value):
            raise HTTPException(403, f"this key sees {dim} {value!r} only, not {chosen[dim]!r}")
    return fixed


def _charted(found: dict[str, Any], chart: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    return {**found, "figure": chart(found)}


def _moment(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        return utc(value)
    except ValueError:
        raise HTTPException(400, f"{name} {value!r} is not an ISO date or time (e.g. 2026-05-01)") from None


def _json(data: Any) -> Response:
    text = json.dumps(data, ensure_ascii=False, default=_plain)
    return Response(text, media_type="application/json")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)
