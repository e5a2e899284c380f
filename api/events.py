"""What became of an accepted write: ``GET /api/v1/events/{event_id}``, and the wait behind
``Prefer: wait=N`` on the handling calls.

An event is ``projected`` once the worker's progress marker covers its offset and no dead
letter sits at that offset; ``dead_lettered`` once the marker covers it and the worker refused
it (the reason is the dead letter's); ``pending`` until then. Everything is read from Kafka and
the projections, never from the process's memory, so every API process answers alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Query
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from civicloop.api import auth
from civicloop.api.backend import Backend, backend
from civicloop.api.errors import bad_request, not_found, shorten
from civicloop.api.projected import NothingProjected
from civicloop.projections.fold.casestate import CaseState
from civicloop.projections.read_model import cases, events
from civicloop.schemas.event import Event
from civicloop.schemas.ids import id_problem
from civicloop.streams.producer import Delivered

router = APIRouter(prefix="/api/v1", tags=["reads"])
PENDING, PROJECTED, DEAD_LETTERED = "pending", "projected", "dead_lettered"


@dataclass(frozen=True)
class Outcome:
    """Where an event stands; ``case`` is the case as projected once the event's outcome was
    known (it includes this event, and any later one projected in the same batch)."""

    status: str
    event_id: str
    case_id: str
    type: str
    partition: int | None = None
    offset: int | None = None
    reason: str = ""
    detail: str = ""
    case: dict[str, Any] | None = None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "event_id": self.event_id,
            "case_id": self.case_id,
            "type": self.type,
            "status": self.status,
            "partition": self.partition,
            "offset": self.offset,
        }
        if self.status == PROJECTED:
            body["case"] = self.case
        if self.status == DEAD_LETTERED:
            body["reason"], body["detail"] = self.reason, self.detail
        return body


def status_url(event_id: str, case_id: str) -> str:
    return f"/api/v1/events/{quote(event_id, safe='')}?case_id={quote(case_id, safe='')}"


@router.get(
    "/events/{event_id}",
    summary="What became of an accepted write: pending, projected (with the case) or dead_lettered",
)
async def get_event(
    event_id: Annotated[str, Path(min_length=1, max_length=200)],
    request: Request,
    case_id: Annotated[
        str | None, Query(min_length=1, max_length=200, description="The event's case (faster).")
    ] = None,
) -> JSONResponse:
    api = backend(request)
    auth.caller(request, auth.READ)
    for name, value in (("event_id", event_id), ("case_id", case_id)):
        if value is not None and (problem := id_problem(value)) is not None:  # the SDK's rule
            raise bad_request(f"{name} {shorten(value)}: {problem}", name)
    progress = api.progress
    partitions = [progress.partition(case_id)] if case_id else list(range(progress.partitions))
    ends = await progress.log_ends(partitions)  # before the tables: all that was accepted by now
    found = await run_in_threadpool(_find, api, event_id, case_id)
    marks = await progress.marks()
    if found is None:
        if all(marks.get(p, -1) >= end - 1 for p, end in ends.items()):
            where = f" of case {case_id!r}" if case_id else ""
            raise not_found(f"no event {event_id!r}{where} was accepted", "event_id")
        return JSONResponse(Outcome(PENDING, event_id, case_id or "", "").body())
    assert found.partition is not None and found.offset is not None
    if marks.get(found.partition, -1) < found.offset:
        found = Outcome(PENDING, event_id, found.case_id, found.type, found.partition, found.offset)
    elif found.status == PROJECTED:
        found = await run_in_threadpool(_with_case, api, found)
    return JSONResponse(found.body())


async def wait_outcome(
    api: Backend, event_id: str, case_id: str, type: str, partition: int, offset: int, timeout: float
) -> Outcome:
    """The outcome of the event at ``partition``/``offset``, waiting at most ``timeout`` s for
    the projection to cover it (``pending`` when it does not in time)."""
    if not await api.progress.covered(partition, offset, timeout):
        return Outcome(PENDING, event_id, case_id, type, partition, offset)
    return await run_in_threadpool(
        _settled, api, Outcome(PROJECTED, event_id, case_id, type, partition, offset)
    )


async def outcome(api: Backend, event: Event, delivered: Delivered | None, timeout: float) -> Outcome:
    """What became of ``event``, sent as ``delivered`` (None: the case had already folded it),
    waiting at most ``timeout`` s for it (``Prefer: wait``)."""
    if delivered is None:
        return await run_in_threadpool(
            _with_case, api, Outcome(PROJECTED, event.event_id, event.case_id, event.type)
        )
    return await wait_outcome(
        api, event.event_id, event.case_id, event.type, delivered.partition, delivered.offset, timeout
    )


def load_state(api: Backend, case_id: str) -> CaseState | None:
    """The case as projected now (None: not reported, or not projected yet)."""
    return cases.folded(api.projections.query, api.projections.database, case_id)


def projected_case(api: Backend, case_id: str) -> dict[str, Any] | None:
    """The case as projected now, as the handling answers show it."""
    state = load_state(api, case_id)
    return case_view(state) if state is not None else None


def case_view(state: CaseState) -> dict[str, Any]:
    return {
        "case_id": state.case_id,
        "state": state.state,
        "version": state.version,
        "lead_task": state.lead_task,
        "tasks": {
            task_id: {"department": task.department, "role": task.role, "status": task.status}
            for task_id, task in state.tasks.items()
        },
    }


def _settled(api: Backend, event: Outcome) -> Outcome:
    """``event`` (covered by the marker) dead-lettered, if a dead letter sits at its offset."""
    p = api.projections
    try:
        dead = events.dead_letter_at(
            p.query, p.database, api.config.events_topic, event.partition, event.offset
        )
    except NothingProjected:
        dead = None
    if dead is not None:
        reason, detail = dead.reason, dead.detail
        return Outcome(
            DEAD_LETTERED,
            event.event_id,
            event.case_id,
            event.type,
            event.partition,
            event.offset,
            reason.removeprefix("illegal:"),  # the same codes as the API's own 409s
            detail,
        )
    return _with_case(api, event)


def _with_case(api: Backend, event: Outcome) -> Outcome:
    case = projected_case(api, event.case_id)
    return Outcome(
        PROJECTED, event.event_id, event.case_id, event.type, event.partition, event.offset, case=case
    )


def _find(api: Backend, event_id: str, case_id: str | None) -> Outcome | None:
    """Where the projections hold ``event_id``: in the event log (projected, or about to be)
    or among the dead letters; None when in neither."""
    p, topic = api.projections, api.config.events_topic
    try:
        logged = events.logged(p.query, p.database, topic, event_id, case_id)
        if logged is not None:
            return Outcome(PROJECTED, event_id, logged.case_id, logged.type, logged.partition, logged.offset)
        dead = events.dead_letter_of(p.query, p.database, topic, event_id, case_id)
    except NothingProjected:
        return None
    if dead is None:
        return None
    return Outcome(
        DEAD_LETTERED,
        event_id,
        dead.case_id,
        dead.event_type,
        dead.partition,
        dead.offset,
        dead.reason.removeprefix("illegal:"),
        dead.detail,
    )
