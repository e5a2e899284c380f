"""Builders for test events: ``ev.dispatched(t, "T1", dept="roads")`` → an Event of the spec."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from civicloop.schemas.event import Event

_ids = itertools.count(1)
CASE = "C-1"
T0 = datetime(2024, 3, 4, 14, 0, tzinfo=UTC)  # a Monday, 09:00 in New York


def at(hours: float = 0, base: datetime = T0) -> datetime:
    return base + timedelta(hours=hours)


def event(type_: str, t: datetime, case_id: str = CASE, event_id: str | None = None, **fields: Any) -> Event:
    envelope = {
        "event_id": event_id or str(uuid.UUID(int=next(_ids))),
        "case_id": case_id,
        "occurred_at": t,
        "recorded_at": t,
        "actor": {"type": "system", "id": "test"},
        "source": "tests/1",
    }
    return Event(type=type_, fields={**envelope, **fields})


def reported(
    t: datetime,
    case_id: str = CASE,
    category: str = "roads",
    priority: str = "normal",
    channel: str = "hotline",
    district: str = "D1",
    grid_id: str = "G1",
    **kw: Any,
) -> Event:
    location = {"lat": 39.3, "lon": -76.6, "address": None, "grid_id": grid_id, "district": district}
    return event(
        "CaseReported",
        t,
        case_id,
        channel=channel,
        category=category,
        description="pothole",
        location=location,
        priority=priority,
        reporter_ref="r-1",
        **kw,
    )


def registered(
    t: datetime, case_id: str = CASE, category: str = "roads", priority: str = "normal", **kw: Any
) -> Event:
    return event("CaseRegistered", t, case_id, category=category, priority=priority, **kw)


def voided(
    t: datetime, reason: str = "invalid", duplicate_of: str | None = None, case_id: str = CASE, **kw: Any
) -> Event:
    return event("CaseVoided", t, case_id, reason=reason, duplicate_of=duplicate_of, **kw)


def dispatched(
    t: datetime,
    task_id: str = "T1",
    dept: str = "roads",
    role: str = "lead",
    accept_h: float | None = 1,
    dispose_h: float | None = 48,
    case_id: str = CASE,
    **kw: Any,
) -> Event:
    """A dispatch with deadlines ``accept_h`` / ``dispose_h`` hours after ``t``; None: no deadline."""
    return event(
        "TaskDispatched",
        t,
        case_id,
        task_id=task_id,
        department=dept,
        role=role,
        accept_by=None if accept_h is None else t + timedelta(hours=accept_h),
        dispose_by=None if dispose_h is None else t + timedelta(hours=dispose_h),
        **kw,
    )


def task_event(type_: str, t: datetime, task_id: str = "T1", case_id: str = CASE, **kw: Any) -> Event:
    return event(type_, t, case_id, task_id=task_id, **kw)


def accepted(t: datetime, task_id: str = "T1", **kw: Any) -> Event:
    return task_event("TaskAccepted", t, task_id, **kw)


def contacted(t: datetime, task_id: str = "T1", **kw: Any) -> Event:
    return task_event("CitizenContacted", t, task_id, **kw)


def returned(t: datetime, task_id: str = "T1", reason: str = "wrong_area", **kw: Any) -> Event:
    return task_event("TaskReturned", t, task_id, reason=reason, **kw)


def extended(t: datetime, new_dispose_by: datetime, task_id: str = "T1", **kw: Any) -> Event:
    return task_event("DeadlineExtended", t, task_id, new_dispose_by=new_dispose_by, approver="boss", **kw)


def disposed(t: datetime, task_id: str = "T1", outcome: str = "fixed", **kw: Any) -> Event:
    return task_event("TaskDisposed", t, task_id, outcome=outcome, **kw)


def escalated(t: datetime, level: int = 1, case_id: str = CASE, **kw: Any) -> Event:
    return event("CaseEscalated", t, case_id, level=level, reason="supervisor", **kw)


def checked(t: datetime, passed: bool = True, case_id: str = CASE, **kw: Any) -> Event:
    return event("CaseChecked", t, case_id, passed=passed, **kw)


def closed(t: datetime, reason: str = "resolved", case_id: str = CASE, **kw: Any) -> Event:
    return event("CaseClosed", t, case_id, reason=reason, **kw)


def feedback(
    t: datetime, resolved: bool = True, satisfaction: str = "satisfied", case_id: str = CASE, **kw: Any
) -> Event:
    return event("FeedbackReceived", t, case_id, resolved=resolved, satisfaction=satisfaction, **kw)


def reopened(t: datetime, reason: str = "unresolved_feedback", case_id: str = CASE, **kw: Any) -> Event:
    return event("CaseReopened", t, case_id, reason=reason, **kw)
