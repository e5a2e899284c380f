"""Reads for department, supervisor and analyst apps: one case in full, and the figures.

``GET /api/v1/cases/{id}`` gives the case's lifecycle row, its tasks and deadlines and its
event timeline (from the event log); a department key sees its own department's tasks only,
and no event of another department's task. The reporter's contact is unsealed only for a key that
may call back (supervisors, and departments with a task on the case); nobody else sees it,
not even as ciphertext. ``metrics``, ``durations`` and ``backlog`` are the CLI's queries and
JSON, with exactly the CLI's parameters (filters included); any other parameter, and an empty
period, is 400 rather than an answer about something else.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from civicloop.api import auth
from civicloop.api.backend import Backend, backend
from civicloop.api.errors import ApiError, Problem, bad_request, not_found, shorten
from civicloop.api.keys import ApiKey
from civicloop.api.projected import NothingProjected
from civicloop.api.requests_common import moment
from civicloop.privacy import unseal
from civicloop.projections.metrics import closed_loop, reports
from civicloop.projections.metrics.scope import Scope
from civicloop.projections.read_model import cases
from civicloop.schemas.event import Event

router = APIRouter(prefix="/api/v1", tags=["reads"])
Dimension = Literal["department", "category", "district", "grid", "channel", "priority", "all"]
By = Annotated[Dimension, Query(description="Group by this dimension.")]
Moment = Annotated[str | None, Query(description="ISO date or date-time; UTC when it has no offset.")]


@router.get("/cases/{case_id}", summary="A case: state, tasks, deadlines, and its event timeline")
async def get_case(case_id: Annotated[str, Path(min_length=1, max_length=200)], request: Request) -> Response:
    api, key = _reader(request)
    case = await run_in_threadpool(_case, api, case_id)
    if case is None:
        raise not_found(f"case {case_id!r} not found (not reported, or not projected yet)", "case_id")
    departments = {task["department"] for task in case["tasks"]}
    report = case.pop("_report")
    if auth.may_call_back(key, departments):
        case["contact"] = await run_in_threadpool(_contact, api, report)
    if key.role == "department":
        _own_tasks_only(case, key.department)
    return _json(case)


def _own_tasks_only(case: dict[str, Any], department: str | None) -> None:
    """The case as a department sees it: its own tasks, and no event of another department's
    task (what others were asked, did or said is not its business)."""
    own = {task["task_id"] for task in case["tasks"] if task["department"] == department}
    case["tasks"] = [task for task in case["tasks"] if task["task_id"] in own]
    case["deadlines"]["tasks"] = {t: d for t, d in case["deadlines"]["tasks"].items() if t in own}
    case["timeline"] = [e for e in case["timeline"] if e.get("task_id") is None or e["task_id"] in own]


#: each figure's parameters: exactly the CLI's options (civicloop/cli/analytics.py), and the key
FILTERS = ("department", "category", "district", "channel")
PARAMETERS = {
    "metrics": frozenset({"from", "to", "by", *FILTERS, "api_key"}),
    "durations": frozenset({"from", "to", "by", *FILTERS, "api_key"}),
    "backlog": frozenset({"as_of", "by", *FILTERS, "api_key"}),
}
Filter = Annotated[str | None, Query(description="Only this value's cases and tasks (as the CLI's option).")]


def _period(
    t_from: Annotated[str | None, Query(alias="from", description="Period start, inclusive.")] = None,
    t_to: Annotated[str | None, Query(alias="to", description="Period end, exclusive.")] = None,
) -> tuple[str | None, str | None]:
    return t_from, t_to


def _grouping(
    by: By = "department",
    department: Filter = None,
    category: Filter = None,
    district: Filter = None,
    channel: Filter = None,
) -> Dimension:
    """The grouping; the filters are declared here for the docs and read, checked, by ``_scope``."""
    return by


Period = Annotated[tuple[str | None, str | None], Depends(_period)]
Grouping = Annotated[Dimension, Depends(_grouping)]


@router.get("/metrics", summary="Closed-loop metrics per group (as `civicloop metrics --format json`)")
async def get_metrics(request: Request, period: Period, by: Grouping) -> Response:
    def figures(q: Any, db: str, start: datetime | None, end: datetime | None, scope: Scope) -> Any:
        return closed_loop.metrics(q, db, by, start, end, scope=scope)

    return await _per_group(request, "metrics", figures, period, by)


@router.get("/durations", summary="Duration percentiles per group (as `civicloop durations --format json`)")
async def get_durations(request: Request, period: Period, by: Grouping) -> Response:
    def figures(q: Any, db: str, start: datetime | None, end: datetime | None, scope: Scope) -> Any:
        return reports.durations(q, db, by, start, end, scope)

    return await _per_group(request, "durations", figures, period, by)


async def _per_group(
    request: Request, figure: str, figures: Callable[..., Any], period: tuple[str | None, str | None], by: str
) -> Response:
    """``figures(query, database, start, end, scope)`` over the period, grouped as the CLI's JSON."""
    api, _ = _reader(request)
    t_from, t_to = period
    scope = _scope(request, figure)
    start, end = moment(t_from, "from"), moment(t_to, "to")
    if start is not None and end is not None and end <= start:
        raise bad_request(f"the period is empty: to {t_to!r} must be after from {t_from!r}", "to")
    database = api.projections.database
    rows = await run_in_threadpool(_figures, api, lambda q: figures(q, database, start, end, scope))
    return _json(_grouped(rows, by))


@router.get("/backlog", summary="Open cases by age bucket and overdue state (as `civicloop backlog`)")
async def get_backlog(request: Request, by: Grouping, as_of: Moment = None) -> Response:
    api, _ = _reader(request)
    scope = _scope(request, "backlog")
    at = moment(as_of, "as_of")
    rows = await run_in_threadpool(
        _figures, api, lambda q: reports.backlog(q, api.projections.database, by, at, scope)
    )
    return _json(_grouped(rows, by))


def _scope(request: Request, figure: str) -> Scope:
    """The filters given (``department=roads`` …), as the CLI's options give them; 400 for a
    parameter the CLI does not take, or one given twice (never silently ignored)."""
    known = PARAMETERS[figure]
    problems = [
        Problem(f"unknown parameter {shorten(name)} (known: {', '.join(sorted(known))})", name)
        for name in dict.fromkeys(request.query_params)
        if name not in known
    ]
    problems += [
        Problem(f"{name} was given more than once", name)
        for name in dict.fromkeys(request.query_params)
        if name in known and len(request.query_params.getlist(name)) > 1
    ]
    if problems:
        raise ApiError(400, problems)
    return Scope({name: value for name in FILTERS if (value := request.query_params.get(name)) is not None})


def _reader(request: Request) -> tuple[Backend, ApiKey]:
    return backend(request), auth.caller(request, auth.READ)


def _case(api: Backend, case_id: str) -> dict[str, Any] | None:
    """The dashboard's case read (``projections/read_model/cases.py``), with the deadlines in force
    and, kept aside for the contact, the case's report."""
    p = api.projections
    try:
        found = cases.case_with_events(p.query, p.database, case_id)
    except NothingProjected:
        return None
    if found is None:
        return None
    case, events = found
    case["deadlines"] = {
        "accept_by": case["accept_by"],
        "dispose_by": case["due_at"],
        "tasks": {
            t["task_id"]: {"accept_by": t["accept_by"], "dispose_by": t["dispose_by"]} for t in case["tasks"]
        },
    }
    case["_report"] = next((e for e in events if e.type == "CaseReported"), None)
    return case


def _contact(api: Backend, report: Event | None) -> str | None:
    if report is None or report.get("contact_ciphertext") is None:
        return None
    sealed, key_id = report["contact_ciphertext"], report["contact_key_id"]
    return api.with_contacts(lambda keys: unseal(keys, sealed, key_id))


def _figures(api: Backend, compute: Any) -> list[dict[str, Any]]:
    try:
        rows: list[dict[str, Any]] = compute(api.projections.query)
    except NothingProjected:
        return []
    return rows


def _grouped(rows: list[dict[str, Any]], by: str) -> list[dict[str, Any]]:
    if by == "all":
        for row in rows:
            row["group"] = "all"
    return rows


def _json(data: Any) -> Response:
    # The CLI's JSON (tools/output.py): whatever JSON lacks (datetimes) as its string form,
    # except that times here are ISO 8601 with their offset.
    text = json.dumps(
        data, ensure_ascii=False, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v)
    )
    return Response(text, media_type="application/json")
