"""What the console's case page needs beside the case itself (docs/CONSOLE.md).

``GET /api/v1/cases/{case_id}/actions`` answers "what may this key do to this case now?":
every action its role may take is tried against the case as projected with the fold's own
guards (``projections/fold/lifecycle.fold``, the ones the handling API and the worker apply),
each task action once per task the key may act on; only those the fold accepts are listed,
so the page offers exactly the actions a click can take, and none other. With them come what
the forms need: the departments a case may be dispatched to and the deadlines that will apply,
the duplicate suggestions (``nearby``) for a void, the case's place on the district map, and
the signals that name its district or grid cell, and each live task's clock: the working time
left to the deadline that applies (the deadline policy's calendar). Answers carry an
``ETag`` (the projection's progress marker and the minute) for conditional polling.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from civicloop.api import auth, worklist
from civicloop.api.actions import ACTIONS, Body, Context
from civicloop.api.backend import Backend
from civicloop.api.errors import ApiError, not_found
from civicloop.api.events import load_state
from civicloop.api.keys import ApiKey
from civicloop.api.projected import NothingProjected
from civicloop.api.usecases import event_for
from civicloop.projections.fold.calendar import working_seconds
from civicloop.projections.fold.casestate import CaseState
from civicloop.projections.fold.clock import seconds
from civicloop.projections.fold.guards import IllegalTransition
from civicloop.projections.fold.lifecycle import fold
from civicloop.projections.fold.policy import deadlines_for, default_policy
from civicloop.projections.read_model import cases
from civicloop.projections.read_model.nearby import nearby

router = APIRouter(prefix="/api/v1", tags=["console"])
#: the map's drawing box (an SVG viewBox of this width and height)
MAP_SIZE = 200.0


@router.get(
    "/cases/{case_id}/actions",
    summary="The actions this key may take on the case now, with what their forms need",
    responses={304: {"description": "`If-None-Match` named the answer as it still is"}},
)
async def get_actions(
    case_id: Annotated[str, Path(min_length=1, max_length=200)], request: Request
) -> Response:
    api, key = worklist.reader(request)
    now = datetime.now(UTC).replace(microsecond=0)
    tag = await worklist.etag(api, key, request, now.replace(second=0))
    if (same := worklist.unchanged(request, tag)) is not None:
        return same
    found = await run_in_threadpool(_work, api, key, case_id, now)
    if found is None:
        raise not_found(f"case {case_id!r} not found (not reported, or not projected yet)", "case_id")
    text = json.dumps(
        found, ensure_ascii=False, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v)
    )
    return Response(text, media_type="application/json", headers={"ETag": tag, "Cache-Control": "no-cache"})


def _work(api: Backend, key: ApiKey, case_id: str, now: datetime) -> dict[str, Any] | None:
    try:
        state = load_state(api, case_id)
    except NothingProjected:
        return None
    if state is None:
        return None
    if key.role == "department" and key.department not in {t.department for t in state.tasks.values()}:
        return None  # another department's case is not this key's to see
    allowed = allowed_actions(api, key, state, now)
    answer: dict[str, Any] = {
        "case_id": case_id,
        "role": key.role,
        "department": key.department if key.role == "department" else None,
        "actions": allowed,
    }
    if any(a["action"] == "dispatch" for a in allowed):
        answer["departments"] = [
            {"name": d.name, "display_name": d.display_name} for d in api.departments.departments
        ]
        answer["routed_to"] = api.catalogue.routed_to(state.category)
        try:
            accept_by, dispose_by = deadlines_for(state.category, state.priority, now)
            answer["deadlines"] = {"accept_by": accept_by, "dispose_by": dispose_by}
        except LookupError:
            answer["deadlines"] = None
    if any(a["action"] == "void" for a in allowed) and state.lat is not None and state.lon is not None:
        p = api.projections
        answer["duplicates"] = nearby(
            p.query, p.database, state.lat, state.lon, state.category, exclude=case_id
        )
    answer["clocks"] = clocks(key, state, now)
    answer["working_day_s"] = default_policy().calendar.day_seconds()
    answer["map"] = _map(api, state)
    answer["signals"] = _signals(api, state)
    return answer


def clocks(key: ApiKey, state: CaseState, now: datetime) -> dict[str, dict[str, Any]]:
    """Each live task's clock (a department: its own tasks only): the deadline that applies now
    (``accept_by`` until it is accepted, then ``dispose_by``) and the working time left to it,
    in office seconds of the deadline policy's calendar (negative: overdue by that much)."""
    calendar = default_policy().calendar
    found: dict[str, dict[str, Any]] = {}
    for task in state.tasks.values():
        if key.role == "department" and task.department != key.department:
            continue
        if task.status not in ("dispatched", "accepted"):
            continue
        which, due = (
            ("accept_by", task.accept_by) if task.status == "dispatched" else ("dispose_by", task.dispose_by)
        )
        if due is None:
            continue
        found[task.task_id] = {
            "deadline": which,
            "working_s_left": working_seconds(seconds(now), due, calendar),
        }
    return found


def _probes(
    api: Backend, key: ApiKey, state: CaseState, now: datetime
) -> list[tuple[str, Body, dict[str, Any]]]:
    """(action, a body it could be taken with, what the page shows of it), for every action
    ``key``'s role may take, each task action once per task the key may act on."""
    may = auth.PERMITTED[key.role]
    department = api.catalogue.routed_to(state.category) or api.departments.names[0]
    soon, later = (now + timedelta(hours=1)).isoformat(), (now + timedelta(days=1)).isoformat()
    wanted: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        ("register", {}, {}),
        ("void", {"reason": "invalid"}, {}),
        *(
            (
                "dispatch",
                {"department": department, "role": role, "accept_by": soon, "dispose_by": later},
                {"role": role},
            )
            for role in ("lead", "assist")
        ),
        ("check", {"passed": True}, {}),
        ("close", {"reason": "resolved"}, {}),
        ("feedback", {"resolved": True, "satisfaction": "satisfied"}, {}),
        ("reopen", {"reason": "supervisor"}, {}),
    ]
    for task in state.tasks.values():
        if key.role == "department" and task.department != key.department:
            continue
        shown = {"task_id": task.task_id, "department": task.department, "task_role": task.role}
        extended = datetime.fromtimestamp(max(task.dispose_by or 0, seconds(now)), UTC) + timedelta(days=1)
        wanted += [
            ("accept", {"task_id": task.task_id}, shown),
            ("contact", {"task_id": task.task_id}, shown),
            ("extend", {"task_id": task.task_id, "new_dispose_by": extended.isoformat()}, shown),
            ("return", {"task_id": task.task_id, "reason": "other"}, shown),
            ("dispose", {"task_id": task.task_id, "outcome": "fixed"}, shown),
        ]
    return [
        (name, ACTIONS[name].body.model_validate(body), dict(shown))
        for name, body, shown in wanted
        if name in may
    ]


def allowed_actions(api: Backend, key: ApiKey, state: CaseState, now: datetime) -> list[dict[str, Any]]:
    """The actions ``key`` may take on ``state`` now: each tried with the fold's guards."""
    context = Context(state, now, key.key_id, "t-console-probe", api.catalogue.routed_to, api.departments)
    allowed = []
    for name, body, shown in _probes(api, key, state, now):
        try:
            event = event_for(
                ACTIONS[name], state.case_id, body, context, key, str(uuid.uuid4()), api.source(key)
            )
            fold(state, event, now=now)
        except (IllegalTransition, ApiError):
            continue
        allowed.append({"action": name, **shown})
    return allowed


def _map(api: Backend, state: CaseState) -> dict[str, Any] | None:
    """The districts as SVG paths in a ``MAP_SIZE`` box, the case's own marked, and its point."""
    try:
        west, south, east, north = api.boundaries.bounds
    except Exception:
        return None
    scale = MAP_SIZE / max(east - west, north - south, 1e-9)

    def xy(lon: float, lat: float) -> tuple[float, float]:
        return round((lon - west) * scale, 1), round((north - lat) * scale, 1)

    districts = []
    for outline in api.boundaries.outlines():
        path = " ".join(
            "M " + " L ".join(f"{x} {y}" for x, y in (xy(lon, lat) for lon, lat in ring)) + " Z"
            for ring in outline.rings
        )
        districts.append(
            {"code": outline.code, "name": outline.name, "path": path, "own": outline.code == state.district}
        )
    point = xy(state.lon, state.lat) if state.lat is not None and state.lon is not None else None
    return {
        "width": round((east - west) * scale, 1),
        "height": round((north - south) * scale, 1),
        "districts": districts,
        "point": point,
    }


def _signals(api: Backend, state: CaseState) -> list[dict[str, Any]]:
    """Signals (surges, recurring problems) that name the case's district or grid cell."""
    places = [place for place in (state.district, state.grid_id) if place]
    p = api.projections
    try:
        return cases.signals_at(p.query, p.database, places)
    except NothingProjected:
        return []
