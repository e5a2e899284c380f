"""The API's writes as plain functions the HTTP handlers call: report a problem (Open311 POST
requests), take an action on a case (the handling API, and so the console) and rate the
handling (a closed case's feedback link, api/feedback.py).

Each goes through the same steps in this order; nothing is produced unless every step before
``send`` passes:

1. ids: the event id (and a report's case id, a dispatch's task id) is new, or, with an
   ``Idempotency-Key``, derived from the key's id, the call and that header
   (:func:`derived_id`), so a retried call is the same event;
2. first use: with an ``Idempotency-Key``, what the call asks is recorded as what the key was
   first used for; the same key with another request is 422 ``idempotency_key_reused``
   (``idempotency.py``), before the case is read or anything built;
3. guard (read-your-writes): the projection catches up with the case, so every event Kafka
   held for it when the call came, accepted by any API process, is in the case judged
   (``progress.py``); the case exists (404) and a department acts on its own task (403). A
   report starts a new case: there is nothing to catch up with;
4. build: the SDK builds and validates the event (400 naming the field);
5. dedupe: an event id this process already sent, or that the case has already folded, is
   answered again as a duplicate and not sent;
6. judge: the fold's guards accept the event for the case as projected (409 with the
   guard's reason; 503 instead when the projection had not caught up, as that refusal could
   come from a stale case) — the worker applies the same guards;
7. send: produced idempotently, keyed by case, answered once the broker has it;
8. answer: the event, whether it was a duplicate, and with ``Prefer: wait=N`` its outcome.

The functions take plain values and the collaborators in :class:`Writes`, never an HTTP
request, so the order is tested without a server (tests/unit/test_api_usecases.py). They
raise :class:`~civicloop.api.errors.ApiError`, which the app renders for each protocol.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from starlette.concurrency import run_in_threadpool

from civicloop import log
from civicloop.api import auth, events, intake
from civicloop.api.actions import Action, Body, Context
from civicloop.api.backend import Backend
from civicloop.api.departments import Departments
from civicloop.api.errors import ApiError, Problem, bad_request, not_found, unavailable
from civicloop.api.idempotency import digest
from civicloop.api.keys import ApiKey
from civicloop.privacy import KeyStore
from civicloop.projections.fold.casestate import CaseState
from civicloop.projections.fold.clock import seconds
from civicloop.projections.fold.lifecycle import IllegalTransition, fold
from civicloop.schemas.event import Event
from civicloop.schemas.events import EventValidationError, new_event
from civicloop.streams.notify import feedback
from civicloop.streams.producer import Delivered

_log = log.get(__name__)

#: namespace of the event ids derived from an Idempotency-Key (uuid5)
IDEMPOTENCY_NAMESPACE = uuid.UUID("7b1f0c7e-55a4-4c55-9a38-0b1d7c3b9a11")
#: how long a call waits for the projection to show the case's accepted events before judging
CATCH_UP_S = 30.0
#: actor type of the events each role produces
ACTOR_TYPES = {"department": "department", "supervisor": "supervisor", "dispatcher": "hotline_agent"}


class Producer(Protocol):
    def already_sent(self, event_id: str) -> Delivered | None: ...

    async def send(self, event: Event) -> Delivered: ...


class FirstUses(Protocol):
    def claim(self, event_id: str, request_digest: str) -> None: ...


class CatchUp(Protocol):
    async def caught_up(self, case_id: str, timeout: float) -> bool: ...


@dataclass(frozen=True)
class Writes:
    """What the use cases write through and read from (``writes(backend)`` in the app)."""

    producer: Producer  # the idempotent producer (api/producing.py)
    first_uses: FirstUses  # what each Idempotency-Key was first used for (api/idempotency.py)
    progress: CatchUp  # read-your-writes (api/progress.py)
    case: Callable[[str], CaseState | None]  # the case as projected (a blocking read)
    outcome: Callable[[Event, Delivered | None, float], Awaitable[events.Outcome]]  # Prefer: wait
    with_contacts: Callable[[Callable[[KeyStore], Any]], Any]  # the contact key store, alone
    route: Callable[[str], str | None]  # category → the department its service routes to
    departments: Departments  # the departments a case may be dispatched to
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # when an event is built


def writes(api: Backend) -> Writes:
    """The use cases' collaborators, as the app's backend holds them."""
    return Writes(
        producer=api.sender,
        first_uses=api.idempotency,
        progress=api.progress,
        case=lambda case_id: events.load_state(api, case_id),
        outcome=lambda event, delivered, timeout: events.outcome(api, event, delivered, timeout),
        with_contacts=api.with_contacts,
        route=api.catalogue.routed_to,
        departments=api.departments,
    )


def derived_id(key: ApiKey, idempotency_key: str | None, *parts: str) -> str:
    """A new UUID4, or — with an Idempotency-Key — the same UUID5 every time the same key
    asks the same thing again, so a retried call is one event."""
    if idempotency_key is None:
        return str(uuid.uuid4())
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, "\x1f".join((key.key_id, *parts, idempotency_key))))


# -- report a problem ------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """An Open311 request as checked by ``intake`` (``asked``: its form, for the first use)."""

    submission: intake.Submission
    key: ApiKey
    retry: str | None  # the Idempotency-Key header
    asked: list[tuple[str, Any]]  # the form's fields, without the API key, sorted
    source: str


@dataclass(frozen=True)
class Reported:
    case_id: str
    event_id: str
    duplicate: bool


async def report_problem(writes: Writes, report: Report) -> Reported:
    """A CaseReported for ``report``, sent unless this process already sent it."""
    case_id = "sr-" + derived_id(report.key, report.retry, "open311").replace("-", "")[:24]
    event_id = derived_id(report.key, report.retry, "open311", case_id, "CaseReported")
    await _first_use(writes, report.retry, event_id, report.asked)
    # guard: a new case has no events to catch up with
    # the key store is SQLite (a commit for a new reporter): off the event loop
    who = await run_in_threadpool(writes.with_contacts, lambda keys: intake.reporter(report.submission, keys))
    event = intake.reported(
        report.submission, who, case_id=case_id, event_id=event_id, source=report.source, now=writes.clock()
    )
    if writes.producer.already_sent(event_id) is not None:
        return Reported(case_id, event_id, duplicate=True)
    # judge: the fold takes any CaseReported of a new case
    await writes.producer.send(event)
    return Reported(case_id, event_id, duplicate=False)


# -- rate the handling (a feedback link) -----------------------------------------------------

#: the feedback page's answers: sent (or, not sending, it would be taken), or why not
TAKEN, ALREADY, UNKNOWN, NO_MORE, BAD_COMMENT = (
    "thanks",
    "already",
    "unknown",
    "closed_no_more",
    "bad_comment",
)


@dataclass(frozen=True)
class Rating:
    """A citizen's rating through a feedback link, the link checked: it names the case and the
    event that closed it."""

    case_id: str
    closing: str
    rating: int  # 1-5
    resolved: bool
    comment: str | None
    source: str


async def rate_handling(writes: Writes, given: Rating, send: bool = True) -> str:
    """A FeedbackReceived for ``given``, sent (unless ``send`` is False: only whether it would
    be taken): TAKEN, or why not — ALREADY (this closure was rated, by this link or otherwise),
    UNKNOWN, NO_MORE or BAD_COMMENT (too long, or control characters)."""
    event_id = feedback.event_id(given.case_id, given.closing)  # the link is its own key: one use
    await writes.progress.caught_up(given.case_id, CATCH_UP_S)
    state = await run_in_threadpool(writes.case, given.case_id)
    if state is None:
        return UNKNOWN
    now = writes.clock()
    try:
        event = new_event(
            "FeedbackReceived",
            case_id=given.case_id,
            event_id=event_id,
            actor={"type": "citizen", "id": "feedback-link"},
            source=given.source,
            occurred_at=now,
            resolved=given.resolved,
            satisfaction=feedback.SATISFACTION[given.rating],
            rating=given.rating,
            comment=given.comment,
        )
    except EventValidationError as exc:
        if exc.field.endswith("comment"):
            return BAD_COMMENT
        _log.error("feedback_event_refused", case_id=given.case_id, error=str(exc))  # ours: a bug
        return UNKNOWN
    if writes.producer.already_sent(event_id) is not None:
        return ALREADY
    try:
        after = fold(state, event, now=now)
    except IllegalTransition as exc:
        return ALREADY if exc.reason == "feedback_exists" else NO_MORE
    if after is state:  # folded already
        return ALREADY
    if send:
        await writes.producer.send(event)
    return TAKEN


# -- take an action --------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """A handling call, its request checked for shape: the action, the case and the body."""

    action: Action
    case_id: str
    body: Body
    key: ApiKey
    retry: str | None  # the Idempotency-Key header
    wait: float | None  # Prefer: wait=N, in seconds
    source: str


@dataclass(frozen=True)
class Taken:
    """The event of an accepted call; ``outcome`` only when the call asked to wait."""

    event: Event
    duplicate: bool
    outcome: events.Outcome | None = None


async def take_action(writes: Writes, call: Call) -> Taken:
    """The action's event for the case as projected, sent unless it already was."""
    event_id = derived_id(call.key, call.retry, call.case_id, call.action.name)
    new_task = "t-" + derived_id(call.key, call.retry, call.case_id, "task").replace("-", "")[:16]
    await _first_use(
        writes, call.retry, event_id, [call.action.name, call.case_id, call.body.model_dump(mode="json")]
    )
    caught_up, state = await _guard(writes, call)
    now = writes.clock()
    await _check_original(writes, call.case_id, call.body)
    context = Context(state, now, call.key.key_id, new_task, writes.route, writes.departments)
    event = event_for(call.action, call.case_id, call.body, context, call.key, event_id, call.source)
    if seconds(event.occurred_at) < state.reported_at:
        raise bad_request(
            f"occurred_at {event.occurred_at.isoformat()} is before the case was reported", "occurred_at"
        )
    sent = writes.producer.already_sent(event.event_id)
    if sent is not None:
        return await _taken(writes, call, event, sent, duplicate=True)
    try:
        after = fold(state, event, now=now)
    except IllegalTransition as exc:
        _unless_behind(caught_up, call.case_id)
        raise ApiError(409, [Problem(exc.message, None, exc.reason)], {"reason": exc.reason}) from None
    if after is state:  # the fold has seen this event id: a retry of a call already projected
        return await _taken(writes, call, event, None, duplicate=True)
    delivered = await writes.producer.send(event)
    return await _taken(writes, call, event, delivered, duplicate=False)


async def _first_use(writes: Writes, retry: str | None, event_id: str, asked: Any) -> None:
    """422 when the Idempotency-Key ``retry`` was first used for another request."""
    if retry is not None:
        await run_in_threadpool(writes.first_uses.claim, event_id, digest(asked))


async def _guard(writes: Writes, call: Call) -> tuple[bool, CaseState]:
    """Read-your-writes: the case once the projection shows every event Kafka held for it when
    the call came (whether it did, in time), and the key may act on the task it names."""
    caught_up = await writes.progress.caught_up(call.case_id, CATCH_UP_S)
    state = await run_in_threadpool(writes.case, call.case_id)
    if state is None:
        _unless_behind(caught_up, call.case_id)
        raise not_found(f"case {call.case_id!r} not found (not reported, or not projected yet)", "case_id")
    task_id = getattr(call.body, "task_id", None)
    if call.action.on_task and task_id is not None:
        task = state.tasks.get(task_id)
        if task is None:
            _unless_behind(caught_up, call.case_id)
        auth.require_own_task(call.key, task.department if task else None, task_id)
    return caught_up, state


def _unless_behind(caught_up: bool, case_id: str) -> None:
    """503 when the projection had not caught up with the case: a refusal would be judged
    on a stale case (the worker is down or far behind)."""
    if not caught_up:
        raise unavailable(
            f"the projections have not yet shown every event of case {case_id!r} after "
            f"{CATCH_UP_S:.0f} s (is the worker running?); retry shortly"
        )


async def _check_original(writes: Writes, case_id: str, body: Body) -> None:
    """422 unless a void's ``duplicate_of`` names another case that exists (as projected)."""
    original = getattr(body, "duplicate_of", None)
    if original is None:
        return
    if original == case_id:
        raise _unknown_original(f"duplicate_of {original!r} is this case itself")
    await writes.progress.caught_up(original, CATCH_UP_S)  # a case reported just now counts too
    if await run_in_threadpool(writes.case, original) is None:
        raise _unknown_original(
            f"duplicate_of {original!r}: no such case (not reported, or not projected yet)"
        )


def _unknown_original(description: str) -> ApiError:
    return ApiError(422, [Problem(description, "duplicate_of", "unknown_case")])


def event_for(
    action: Action, case_id: str, body: Body, ctx: Context, key: ApiKey, event_id: str, source: str
) -> Event:
    """The action's event, built and validated by the SDK (400 naming the field)."""
    actor_type = ACTOR_TYPES.get(key.role, "system")
    actor_id = key.department if key.role == "department" else key.label or key.key_id
    try:
        return new_event(
            action.event_type,
            case_id=case_id,
            event_id=event_id,
            actor={"type": actor_type, "id": actor_id},
            source=source,
            occurred_at=body.occurred_at or ctx.now,
            **action.fields(body, ctx),
        )
    except EventValidationError as exc:
        field = exc.field  # the SDK's message starts with "<EventType>.<field>"
        raise bad_request(str(exc).removeprefix(f"{action.event_type}."), field, exc.reason) from None


async def _taken(
    writes: Writes, call: Call, event: Event, delivered: Delivered | None, duplicate: bool
) -> Taken:
    """The answer; with ``Prefer: wait``, the event's outcome (``delivered`` None: the case had
    already folded it)."""
    if call.wait is None:
        return Taken(event, duplicate)
    return Taken(event, duplicate, await writes.outcome(event, delivered, call.wait))
