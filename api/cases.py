"""Reads for department, supervisor and analyst apps: one case in full, and the figures.

``GET /api/v1/cases/{id}`` gives the case's lifecycle row, its tasks and deadlines and its
event timeline (from the event log). The reporter's contact is unsealed only for a key that
may call back (supervisors, and departments with a task on the case); nobody else sees it,
not even as ciphertext. ``metrics``, ``durations`` and ``backlog`` are the CLI's queries and
JSON, with the same parameters.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from civicloop.api import auth
from civicloop.api.backend import Backend, backend
from civicloop.api.errors import bad_request, not_found
from civicloop.api.keys import ApiKey
from civicloop.api.projected import NothingProjected
from civicloop.privacy import unseal
from civicloop.projections.metrics import cases, closed_loop, reports
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
    return _json(case)


@router.get("/metrics", summary="Closed-loop metrics per group (as `civicloop metrics --format json`)")
async def get_metrics(
    request: Request,
    t_from: Annotated[str | None, Query(alias="from", description="Period start, inclusive.")] = None,
    t_to: Annotated[str | None, Query(alias="to", description="Period end, exclusive.")] = None,
    by: By = "department",
) -> Response:
    return await _per_group(request, closed_loop.metrics, t_from, t_to, by)


@router.get("/durations", summary="Duration percentiles per group (as `civicloop durations --format json`)")
async def get_durations(
    request: Request,
    t_from: Annotated[str | None, Query(alias="from", description="Period start, inclusive.")] = None,
    t_to: Annotated[str | None, Query(alias="to", description="Period end, exclusive.")] = None,
    by: By = "department",
) -> Response:
    return await _per_group(request, reports.durations, t_from, t_to, by)


async def _per_group(
    request: Request, figures: Callable[..., Any], t_from: str | None, t_to: str | None, by: By
) -> Response:
    """``figures(query, database, by, start, end)`` over the period, grouped as the CLI's JSON."""
    api, _ = _reader(request)
    start, end = _time(t_from, "from"), _time(t_to, "to")
    rows = await run_in_threadpool(
        _figures, api, lambda q: figures(q, api.projections.database, by, start, end)
    )
    return _json(_grouped(rows, by))


@router.get("/backlog", summary="Open cases by age bucket and overdue state (as `civicloop backlog`)")
async def get_backlog(request: Request, as_of: Moment = None, by: By = "department") -> Response:
    api, _ = _reader(request)
    moment = _time(as_of, "as_of")
    rows = await run_in_threadpool(
        _figures, api, lambda q: reports.backlog(q, api.projections.database, by, moment)
    )
    return _json(_grouped(rows, by))


def _reader(request: Request) -> tuple[Backend, ApiKey]:
    api = backend(request)
    key = auth.authenticate(api.keys, auth.presented_token(request))
    request.state.key_id = key.key_id
    auth.require(key, auth.READ)
    return api, key


def _case(api: Backend, case_id: str) -> dict[str, Any] | None:
    """The dashboard's case read (``projections/metrics/cases.py``), with the deadlines in force
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


def _time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise bad_request(
            f"{name} {value!r} is not an ISO date or date-time (e.g. 2026-05-01)", name
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _json(data: Any) -> Response:
    # The CLI's JSON (tools/output.py): whatever JSON lacks (datetimes) as its string form,
    # except that times here are ISO 8601 with their offset.
    text = json.dumps(
        data, ensure_ascii=False, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v)
    )
    return Response(text, media_type="application/json")
