"""The handling API: ``POST /api/v1/cases/{case_id}/{action}`` for department and supervisor apps.

A handler checks what HTTP carries — the key is valid (401) and its role may take the action
(403), the ``Idempotency-Key`` header, the case id (the id rule) and the body's shape (400
naming the field), ``Prefer: wait=N`` — then takes the action through the use case
(``usecases.take_action``: the first use of the key, read-your-writes, the case, the event,
the fold's guards, the send, in that order; nothing is produced unless every step passes) and
answers: 202 with the event id and its status URL (api/events.py); with ``Prefer: wait=N``
the outcome once known within N s: 200 with the case after it, or 409 with the worker's reason.

An ``Idempotency-Key`` header makes the event id (and a dispatch's task id) a function of
the key, the case, the action and that header, so a retried call is one event: an id this
process already sent, or that the case has already folded, is answered 202 again and not sent.
The same header with a different body is 422 ``idempotency_key_reused`` (``idempotency.py``).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path
from starlette.requests import Request
from starlette.responses import JSONResponse

from civicloop.api import auth, usecases
from civicloop.api.actions import ACTIONS, Action, Body
from civicloop.api.backend import backend
from civicloop.api.errors import bad_request, shorten
from civicloop.api.events import DEAD_LETTERED, PENDING, status_url
from civicloop.api.requests_common import idempotency_key
from civicloop.schemas.event import Event
from civicloop.schemas.ids import id_problem

router = APIRouter(prefix="/api/v1", tags=["handling"])
CaseId = Annotated[str, Path(min_length=1, max_length=200, description="The case (an Open311 request id).")]
#: the longest ``Prefer: wait`` honoured
MAX_WAIT_S = 30.0


async def take(action: Action, case_id: str, body: Body, request: Request) -> JSONResponse:
    api = backend(request)
    key = auth.caller(request, action.name)
    retry = idempotency_key(request)
    if (problem := id_problem(case_id)) is not None:  # the SDK's rule (schemas/ids.py)
        raise bad_request(f"case_id {shorten(case_id)}: {problem}", "case_id")
    call = usecases.Call(action, case_id, body, key, retry, preferred_wait(request), api.source(key))
    return answer(await usecases.take_action(usecases.writes(api), call))


def preferred_wait(request: Request) -> float | None:
    """Seconds asked for by ``Prefer: wait=N`` (RFC 7240; at most ``MAX_WAIT_S``), or None.
    Other preferences, and a wait that is no number of seconds, are ignored, as the RFC says."""
    for header in request.headers.getlist("prefer"):
        for preference in header.split(","):
            name, _, value = preference.split(";")[0].partition("=")
            if name.strip().lower() == "wait" and value.strip().strip('"').isdigit():
                return min(float(value.strip().strip('"')), MAX_WAIT_S)
    return None


def answer(taken: usecases.Taken) -> JSONResponse:
    """202 with the event id and its status URL; when the call waited for the outcome and it
    is known: 200 with the case after it, or 409 with the worker's reason."""
    body = _accepted(taken.event, taken.duplicate)
    location = {"Location": body["status_url"]}
    outcome = taken.outcome
    if outcome is None or outcome.status == PENDING:
        return JSONResponse(body, status_code=202, headers=location)
    headers = {**location, "Preference-Applied": "wait"}
    if outcome.status == DEAD_LETTERED:
        problem = {"code": outcome.reason, "field": None, "description": outcome.detail}
        refused = {**body, "status": outcome.status, "reason": outcome.reason, "errors": [problem]}
        return JSONResponse(refused, status_code=409, headers=headers)
    return JSONResponse(
        {**body, "status": outcome.status, "case": outcome.case}, status_code=200, headers=headers
    )


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
