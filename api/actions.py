"""The handling actions as data: each action's event type, request body and event fields.

Bodies are checked for shape here (types, unknown fields); enum values, deadlines and ids are
checked by the SDK (``new_event``), whose error names the field, the value and what is
allowed, so the contract is stated once, in the ``.avsc`` files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
)

from civicloop.api import text
from civicloop.api.departments import Departments
from civicloop.api.errors import ApiError, Problem, bad_request, shorten
from civicloop.projections.fold.casestate import CaseState
from civicloop.projections.fold.policy import deadlines_for, default_policy
from civicloop.schemas.limits import MAX_ID, MAX_TEXT


def _checked(multiline: bool) -> AfterValidator:
    def check(value: str) -> str:
        wrong = text.problem(value, multiline)
        if wrong:
            raise ValueError(f"the text {wrong}")
        return value

    return AfterValidator(check)


# Strict: a number is not a task id and "yes" is not true (a clear 400, not a guess). Ids,
# codes and names are one line of at most MAX_ID characters, as the event's fields hold;
# a note may have several lines (tab and line breaks, no other control character).
Text = Annotated[StrictStr, Field(max_length=MAX_ID), _checked(multiline=False)]
Note = Annotated[StrictStr, Field(max_length=MAX_TEXT["note"]), _checked(multiline=True)] | None
Comment = Annotated[StrictStr, Field(max_length=MAX_TEXT["comment"]), _checked(multiline=True)] | None


def _iso(value: Any) -> datetime:
    # pydantic alone would also take 1 or "1" as seconds since 1970: a time here is ISO 8601 text.
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError("expected an ISO 8601 date-time with an offset, e.g. 2026-05-01T09:30:00+08:00")


Moment = Annotated[AwareDatetime, BeforeValidator(_iso)]


class Body(BaseModel):
    """Every action: optionally when it happened (default now; a field app syncing later)."""

    model_config = ConfigDict(extra="forbid")
    occurred_at: Moment | None = Field(None, description="When it happened (default: now).")


class RegisterBody(Body):
    category: Text | None = Field(None, description="Re-categorise (default: the reported category).")
    priority: Text | None = Field(None, description="urgent, high, normal, low (default: as reported).")
    deadline_policy: Text | None = Field(None, description="Default: the policy entry that applies.")


class VoidBody(Body):
    reason: Text = Field(description="invalid, out_of_scope or duplicate.")
    duplicate_of: Text | None = Field(None, description="The original case (required for duplicate).")
    note: Note = None


class DispatchBody(Body):
    department: Text | None = Field(None, description="Default: the department the case's service routes to.")
    role: Text = Field("lead", description="lead or assist.")
    task_id: Text | None = Field(None, description="Default: a new id.")
    accept_by: Moment | None = Field(None, description="Default: from the deadline policy.")
    dispose_by: Moment | None = Field(None, description="Default: from the deadline policy.")


class TaskBody(Body):
    task_id: Text


class ExtendBody(TaskBody):
    new_dispose_by: Moment
    approver: Text | None = Field(None, description="Default: the API key's id.")


class ReturnBody(TaskBody):
    reason: Text = Field(description="wrong_area, unclear_ownership, not_our_duty, insufficient_info, other.")
    note: Note = None


class DisposeBody(TaskBody):
    outcome: Text = Field(
        description="fixed, not_responsible, no_further_action, referred, cannot_fix, other."
    )
    note: Note = None


class CheckBody(Body):
    passed: StrictBool
    note: Note = None


class CloseBody(Body):
    reason: Text = Field(
        description="resolved, not_responsible, no_further_action, referred, withdrawn, other."
    )


class FeedbackBody(Body):
    resolved: StrictBool
    satisfaction: Text = Field(description="satisfied, basically_satisfied, unsatisfied.")
    rating: Annotated[StrictInt, Field(ge=1, le=5)] | None = Field(
        None, description="The reporter's stars, 1 to 5, when given (a return visit by phone may ask)."
    )
    comment: Comment = Field(None, description="What the reporter said, in their words (several lines).")


class ReopenBody(Body):
    reason: Text = Field(description="unresolved_feedback, supervisor, other.")


@dataclass(frozen=True)
class Context:
    """What an action's fields may depend on beyond its body."""

    state: CaseState
    now: datetime
    key_id: str
    new_task_id: str
    route: Callable[[str], str | None]  # category → the department its service routes to
    departments: Departments  # the departments a case may be dispatched to


Fields = Callable[[Any, Context], dict[str, Any]]


@dataclass(frozen=True)
class Action:
    name: str
    event_type: str
    body: type[Body]
    fields: Fields
    summary: str

    @property
    def on_task(self) -> bool:
        return issubclass(self.body, TaskBody)


def _given(body: Body, *names: str) -> dict[str, Any]:
    return {name: getattr(body, name) for name in names}


def _register(body: RegisterBody, ctx: Context) -> dict[str, Any]:
    category = body.category or ctx.state.category
    priority = body.priority or ctx.state.priority
    policy = body.deadline_policy
    if policy is None:
        try:
            policy = default_policy().rule(category, priority).name
        except LookupError:
            policy = None
    return {"category": category, "priority": priority, "deadline_policy": policy}


def _dispatch(body: DispatchBody, ctx: Context) -> dict[str, Any]:
    department = body.department or ctx.route(ctx.state.category)
    if not department:
        raise bad_request(
            f"department is required: no service in the catalogue routes category {ctx.state.category!r}",
            "department",
        )
    if ctx.departments.get(department) is None:
        raise ApiError(
            422,
            [
                Problem(
                    f"department {shorten(department)} is not in the departments catalogue "
                    f"(known: {', '.join(ctx.departments.names)})",
                    "department",
                    "unknown_department",
                )
            ],
        )
    accept_by, dispose_by = body.accept_by, body.dispose_by
    if accept_by is None or dispose_by is None:
        try:
            policy_accept, policy_dispose = deadlines_for(ctx.state.category, ctx.state.priority, ctx.now)
        except LookupError as exc:
            raise bad_request(f"give accept_by and dispose_by: {exc}", "dispose_by") from None
        accept_by, dispose_by = accept_by or policy_accept, dispose_by or policy_dispose
    return {
        "task_id": body.task_id or ctx.new_task_id,
        "department": department,
        "role": body.role,
        "accept_by": accept_by,
        "dispose_by": dispose_by,
    }


def _extend(body: ExtendBody, ctx: Context) -> dict[str, Any]:
    return {
        "task_id": body.task_id,
        "new_dispose_by": body.new_dispose_by,
        "approver": body.approver or ctx.key_id,
    }


def _task(*names: str) -> Fields:
    return lambda body, ctx: _given(body, "task_id", *names)


def _case(*names: str) -> Fields:
    return lambda body, ctx: _given(body, *names)


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action("register", "CaseRegistered", RegisterBody, _register, "Register the report as a case (立案)"),
        Action("void", "CaseVoided", VoidBody, _case("reason", "duplicate_of", "note"), "Void the report"),
        Action(
            "dispatch", "TaskDispatched", DispatchBody, _dispatch, "Dispatch a task, lead or assist (派遣)"
        ),
        Action("accept", "TaskAccepted", TaskBody, _task(), "The department signs for its task (签收)"),
        Action("contact", "CitizenContacted", TaskBody, _task(), "The handler contacted the reporter"),
        Action("extend", "DeadlineExtended", ExtendBody, _extend, "An approved extension (延期)"),
        Action("return", "TaskReturned", ReturnBody, _task("reason", "note"), "Send the task back (退单)"),
        Action("dispose", "TaskDisposed", DisposeBody, _task("outcome", "note"), "Report the work done"),
        Action(
            "check", "CaseChecked", CheckBody, _case("passed", "note"), "On-site check of the result (核查)"
        ),
        Action("close", "CaseClosed", CloseBody, _case("reason"), "Close the case (结案)"),
        Action(
            "feedback",
            "FeedbackReceived",
            FeedbackBody,
            _case("resolved", "satisfaction", "rating", "comment"),
            "Return visit (回访)",
        ),
        Action("reopen", "CaseReopened", ReopenBody, _case("reason"), "Reopen a closed case"),
    )
}
