"""The handling API: ``POST /api/v1/cases/{case_id}/{action}`` for department and supervisor apps.

Each call, in this order (nothing is produced unless every step passes):

1. the key is valid (401) and its role may take the action (403);
2. the case id follows the id rule and the body has the right shape (400 naming the field);
3. the projection catches up with the case: it waits (at most ``CATCH_UP_S``) until the
   worker's marker covers the end of the case's partition as Kafka had it when the call came,
   so every event accepted before — by any API process — is in the case it judges
   (api/progress.py); a refusal that could only come from a stale case is 503 instead;
4. the case as projected exists (404), and a department key acts on its own department's
   task (403);
5. the SDK builds and validates the event (400 naming the field);
6. the fold's guards accept it for the projected state (409 with the guard's reason) — the
   same guards the worker applies, so a call that races another still dead-letters there;
7. it is produced idempotently and answered 202 with the event id and its status URL
   (api/events.py); with ``Prefer: wait=N`` the answer waits up to N s for the outcome:
   200 with the case after it, or 409 with the worker's reason.

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
from civicloop.api.errors import ApiError, Problem, bad_request, not_found, shorten, unavailable
from civicloop.api.events import (
    DEAD_LETTERED,
    PENDING,
    PROJECTED,
    Outcome,
    projected_case,
    status_url,
    wait_outcome,
)
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
from civicloop.streams.producer import Delivered

router = APIRouter(prefix="/api/v1", tags=["handling"])
CaseId = Annotated[str, Path(min_length=1, max_length=200, description="The case (an Open311 request id).")]
#: actor type of the events each role produces
ACTOR_TYPES = {"department": "department", "supervisor": "supervisor", "dispatcher": "hotline_agent"}
#: how long a call waits for the projection to show the case's accepted events before judging
CATCH_UP_S = 30.0
#: the longest ``Prefer: wait`` honoured
MAX_WAIT_S = 30.0


async def take(action: Action, case_id: str, body: Body, request: Request) -> JSONResponse:
    api = backend(request)
    key = auth.authenticate(api.keys, auth.presented_token(request))
    request.state.key_id = key.key_id
    auth.require(key, action.name)
    retry = idempotency_key(request)
    if (problem := id_problem(case_id)) is not None:  # the SDK's rule (schemas/ids.py)
        raise bad_request(f"case_id {shorten(case_id)}: {problem}", "case_id")
    wait = preferred_wait(request)
    # Read-your-writes: judge against a projection that shows every event Kafka held for the
    # case when this call came (whichever API process accepted them).
    caught_up = await api.progress.caught_up(case_id, CATCH_UP_S)
    state = await run_in_threadpool(load_state, api, case_id)
    if state is None:
        _unless_behind(caught_up, case_id)
        raise not_found(f"case {case_id!r} not found (not reported, or not projected yet)", "case_id")
    task_id = getattr(body, "task_id", None)
    if action.on_task and task_id is not None:
        task = state.tasks.get(task_id)
        if task is None:
            _unless_behind(caught_up, case_id)
        auth.require_own_task(key, task.department if task else None, task_id)
    now = datetime.now(UTC)
    new_task = "t-" + derived_id(key, retry, case_id, "task").replace("-", "")[:16]
    await _check_original(api, case_id, body)
    context = Context(
        state, now, key.key_id, new_task, lambda category: _route(api, category), api.departments
    )
    event = event_for(action, case_id, body, context, key, derived_id(key, retry, case_id, action.name), api)
    if seconds(event.occurred_at) < state.reported_at:
        raise bad_request(
            f"occurred_at {event.occurred_at.isoformat()} is before the case was reported", "occurred_at"
        )
    if retry is not None:
        request_digest = digest([action.name, case_id, body.model_dump(mode="json")])
        await run_in_threadpool(api.idempotency.claim, event.event_id, request_digest)
    sent = api.sender.already_sent(event.event_id)
    if sent is not None:
        return await _answer(api, event, sent, wait, duplicate=True)
    try:
        after = fold(state, event, now=now)
    except IllegalTransition as exc:
        _unless_behind(caught_up, case_id)
        raise ApiError(409, [Problem(exc.message, None, exc.reason)], {"reason": exc.reason}) from None
    if after is state:  # the fold has seen this event id: a retry of a call already projected
        return await _answer(api, event, None, wait, duplicate=True)
    delivered = await api.sender.send(event)
    return await _answer(api, event, delivered, wait, duplicate=False)


def preferred_wait(request: Request) -> float | None:
    """Seconds asked for by ``Prefer: wait=N`` (RFC 7240; at most ``MAX_WAIT_S``), or None.
    Other preferences, and a wait that is no number of seconds, are ignored, as the RFC says."""
    for header in request.headers.getlist("prefer"):
        for preference in header.split(","):
            name, _, value = preference.split(";")[0].partition("=")
            if name.strip().lower() == "wait" and value.strip().strip('"').isdigit():
                return min(float(value.strip().strip('"')), MAX_WAIT_S)
    return None


def _unless_behind(caught_up: bool, case_id: str) -> None:
    """503 when the projection had not caught up with the case: a refusal would be judged
    on a stale case (the worker is down or far behind)."""
    if not caught_up:
        raise unavailable(
            f"the projections have not yet shown every event of case {case_id!r} after "
            f"{CATCH_UP_S:.0f} s (is the worker running?); retry shortly"
        )


async def _answer(
    api: Backend, event: Event, delivered: Delivered | None, wait: float | None, duplicate: bool
) -> JSONResponse:
    """202 with the event id and its status URL; with ``Prefer: wait``, the outcome once known:
    200 with the case after it, or 409 with the worker's reason."""
    body = _accepted(event, duplicate)
    location = {"Location": body["status_url"]}
    if wait is None:
        return JSONResponse(body, status_code=202, headers=location)
    if delivered is None:  # already folded into the projected case
        outcome = await run_in_threadpool(
            lambda: Outcome(
                PROJECTED, event.event_id, event.case_id, event.type, case=projected_case(api, event.case_id)
            )
        )
    else:
        outcome = await wait_outcome(
            api, event.event_id, event.case_id, event.type, delivered.partition, delivered.offset, wait
        )
    if outcome.status == PENDING:
        return JSONResponse(body, status_code=202, headers=location)
    headers = {**location, "Preference-Applied": "wait"}
    if outcome.status == DEAD_LETTERED:
        problem = {"code": outcome.reason, "field": None, "description": outcome.detail}
        answer = {**body, "status": outcome.status, "reason": outcome.reason, "errors": [problem]}
        return JSONResponse(answer, status_code=409, headers=headers)
    return JSONResponse(
        {**body, "status": outcome.status, "case": outcome.case}, status_code=200, headers=headers
    )


async def _check_original(api: Backend, case_id: str, body: Body) -> None:
    """422 unless a void's ``duplicate_of`` names another case that exists (as projected)."""
    original = getattr(body, "duplicate_of", None)
    if original is None:
        return
    if original == case_id:
        raise _unknown_original(f"duplicate_of {original!r} is this case itself")
    await api.progress.caught_up(original, CATCH_UP_S)  # a case reported just now counts too
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


def event_for(
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


def _accepted(event: Event, duplicate: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": event.event_id,
        "case_id": event.case_id,
        "type": event.type,
        "duplicate": duplicate,
        "status_url": status_url(event.event_id, event.case_id),
    }
    if "task_id" in event.fields:
        body["task_id"] = event["task_id"]
    return body


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
        responses={
            200: {"description": "with `Prefer: wait=N`: projected in time; `case` is the case after it"},
            409: {
                "description": "illegal for the case as projected (or, with `Prefer: wait`, refused by "
                "the worker); `reason` says why"
            },
            503: {"description": "Kafka or the projections cannot be reached, or are too far behind"},
        },
    )
