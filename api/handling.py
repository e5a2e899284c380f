"""The handling API: ``POST /api/v1/cases/{case_id}/{action}`` for department and supervisor apps.

Each call, in this order (nothing is produced unless every step passes):

1. the key is valid (401) and its role may take the action (403);
2. the case id follows the id rule and the body has the right shape (400 naming the field);
3. the case as currently projected exists (404), and a department key acts on its own
   department's task (403);
4. the SDK builds and validates the event (400 naming the field);
5. the fold's guards accept it for the projected state (409 with the guard's reason) — the
   same guards the worker applies, so a call that races another still dead-letters there;
6. it is produced idempotently and answered 202 with the event id.

An ``Idempotency-Key`` header makes the event id (and a dispatch's task id) a function of
the key, the case, the action and that header, so a retried call is one event: an id this
process already sent, or that the case has already folded, is answered 202 again and not sent.
The same header with a different body is 422 ``idempotency_key_reused`` (``idempotency.py``).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from civicloop.api import auth
from civicloop.api.actions import ACTIONS, Action, Body, Context
from civicloop.api.backend import Backend, backend, derived_id
from civicloop.api.errors import ApiError, Problem, bad_request, not_found, shorten
from civicloop.api.idempotency import digest
from civicloop.api.keys import ApiKey
from civicloop.api.requests_common import idempotency_key
from civicloop.projections.fold.casestate import CaseState
from civicloop.projections.fold.clock import seconds
from civicloop.projections.fold.lifecycle import IllegalTransition, fold
from civicloop.projections.state_store import read_known
from civicloop.projections.tables.schema import CASE_STATE
from civicloop.schemas.event import Event
from civicloop.schemas.events import EventValidationError, new_event
from civicloop.schemas.ids import id_problem

router = APIRouter(prefix="/api/v1", tags=["handling"])
CaseId = Annotated[str, Path(min_length=1, max_length=200, description="The case (an Open311 request id).")]
#: actor type of the events each role produces
ACTOR_TYPES = {"department": "department", "supervisor": "supervisor", "dispatcher": "hotline_agent"}


async def take(action: Action, case_id: str, body: Body, request: Request) -> JSONResponse:
    api = backend(request)
    key = auth.authenticate(api.keys, auth.presented_token(request))
    request.state.key_id = key.key_id
    auth.require(key, action.name)
    retry = idempotency_key(request)
    if (problem := id_problem(case_id)) is not None:  # the SDK's rule (schemas/ids.py)
        raise bad_request(f"case_id {shorten(case_id)}: {problem}", "case_id")
    state = await run_in_threadpool(load_state, api, case_id)
    if state is None:
        raise not_found(f"case {case_id!r} not found (not reported, or not projected yet)", "case_id")
    task_id = getattr(body, "task_id", None)
    if action.on_task and task_id is not None:
        task = state.tasks.get(task_id)
        auth.require_own_task(key, task.department if task else None, task_id)
    now = datetime.now(UTC)
    new_task = "t-" + derived_id(key, retry, case_id, "task").replace("-", "")[:16]
    await _check_original(api, case_id, body)
    context = Context(
        state, now, key.key_id, new_task, lambda category: _route(api, category), api.departments
    )
    event = _event(action, case_id, body, context, key, derived_id(key, retry, case_id, action.name), api)
    if seconds(event.occurred_at) < state.reported_at:
        raise bad_request(
            f"occurred_at {event.occurred_at.isoformat()} is before the case was reported", "occurred_at"
        )
    if retry is not None:
        request_digest = digest([action.name, case_id, body.model_dump(mode="json")])
        await run_in_threadpool(api.idempotency.claim, event.event_id, request_digest)
    if api.sender.already_sent(event.event_id) is not None:
        return _accepted(event, duplicate=True)
    try:
        after = fold(state, event, now=now)
    except IllegalTransition as exc:
        raise ApiError(409, [Problem(exc.message, None, exc.reason)], {"reason": exc.reason}) from None
    if after is state:  # the fold has seen this event id: a retry of a call already projected
        return _accepted(event, duplicate=True)
    await api.sender.send(event)
    return _accepted(event, duplicate=False)


async def _check_original(api: Backend, case_id: str, body: Body) -> None:
    """422 unless a void's ``duplicate_of`` names another case that exists (as projected)."""
    original = getattr(body, "duplicate_of", None)
    if original is None:
        return
    if original == case_id:
        raise _unknown_original(f"duplicate_of {original!r} is this case itself")
    if await run_in_threadpool(load_state, api, original) is None:
        raise _unknown_original(
            f"duplicate_of {original!r}: no such case (not reported, or not projected yet)"
        )


def _unknown_original(description: str) -> ApiError:
    return ApiError(422, [Problem(description, "duplicate_of", "unknown_case")])


def load_state(api: Backend, case_id: str) -> CaseState | None:
    known = read_known(api.projections.query, api.projections.table(CASE_STATE), [case_id]).get(case_id)
    return known.state if known else None


def _route(api: Backend, category: str) -> str | None:
    service = api.catalogue.by_category(category)
    return service.department if service else None


def _event(
    action: Action, case_id: str, body: Body, ctx: Context, key: ApiKey, event_id: str, api: Backend
) -> Event:
    actor_type = ACTOR_TYPES.get(key.role, "system")
    actor_id = key.department if key.role == "department" else key.label or key.key_id
    try:
        return new_event(
            action.event_type,
            case_id=case_id,
            event_id=event_id,
            actor={"type": actor_type, "id": actor_id},
            source=api.source(key),
            occurred_at=body.occurred_at or ctx.now,
            **action.fields(body, ctx),
        )
    except EventValidationError as exc:
        field = exc.field  # the SDK's message starts with "<EventType>.<field>"
        raise bad_request(str(exc).removeprefix(f"{action.event_type}."), field, exc.reason) from None


def _accepted(event: Event, duplicate: bool) -> JSONResponse:
    body: dict[str, Any] = {
        "event_id": event.event_id,
        "case_id": event.case_id,
        "type": event.type,
        "duplicate": duplicate,
    }
    if "task_id" in event.fields:
        body["task_id"] = event["task_id"]
    return JSONResponse(body, status_code=202)


def _endpoint(action: Action) -> Callable[..., Awaitable[JSONResponse]]:
    async def endpoint(case_id: str, body: Body, request: Request) -> JSONResponse:
        return await take(action, case_id, body, request)

    # FastAPI reads the body model from the signature: give each action its own.
    endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter("case_id", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=CaseId),
            inspect.Parameter("body", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=action.body),
            inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request),
        ],
        return_annotation=JSONResponse,
    )
    endpoint.__name__ = f"{action.name}_case"
    return endpoint


for _action in ACTIONS.values():
    router.add_api_route(
        f"/cases/{{case_id}}/{_action.name}",
        _endpoint(_action),
        methods=["POST"],
        status_code=202,
        summary=_action.summary,
        description=f"Produces {_action.event_type}. Roles: "
        + ", ".join(
            r if r != "department" else "department:<name>"
            for r, may in auth.PERMITTED.items()
            if _action.name in may
        ),
        responses={409: {"description": "illegal for the case as projected; `reason` says why"}},
    )
