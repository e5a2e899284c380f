"""The SLA watchdog: automatic supervision (督办) when a task's deadline passes unmet.

Every ``interval`` seconds the worker looks for live tasks past their accept-by (not accepted)
or dispose-by (not disposed) deadline and emits one ``CaseEscalated`` per (task, deadline).
Exactly once, also across restarts, replays and several workers: the event id is derived from
(case, task, reason, deadline) and its body from the deadline alone, so a re-emission is the
same bytes, which the fold and the event log drop as a redelivery; and deadlines already
escalated in the event log are not re-sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from civicloop.projections.read_model import events, tasks
from civicloop.projections.store.base import Query
from civicloop.schemas.event import Event
from civicloop.schemas.events import new_event

NAMESPACE = uuid.UUID("6f1c2a8e-93a5-4b7e-8f0e-0c1c1e5a7d42")
WATCHDOG_ACTOR = {"type": "system", "id": "sla-watchdog"}  # the simulator uses the same
LEVELS = {"accept_overdue": 1, "dispose_overdue": 2}


def escalation_event_id(case_id: str, task_id: str, reason: str, deadline: datetime) -> str:
    """The one event id of the automatic escalation of this deadline (shared with simulators)."""
    stamp = int(deadline.timestamp())
    return str(uuid.uuid5(NAMESPACE, f"{case_id}/{task_id}/{reason}/{stamp}"))


@dataclass(frozen=True)
class Overdue:
    case_id: str
    task_id: str
    reason: str
    deadline: datetime

    @property
    def event_id(self) -> str:
        return escalation_event_id(self.case_id, self.task_id, self.reason, self.deadline)


def overdue(query: Query, database: str, now: datetime) -> list[Overdue]:
    """Live tasks whose accept-by or dispose-by deadline passed without the next step."""
    found = []
    for case_id, task_id, status, accept_by, dispose_by in tasks.past_deadline(query, database, now):
        if status == "dispatched" and accept_by is not None and accept_by < now:
            found.append(Overdue(case_id, task_id, "accept_overdue", accept_by))
        if dispose_by is not None and dispose_by < now:
            found.append(Overdue(case_id, task_id, "dispose_overdue", dispose_by))
    return found


def not_yet_escalated(
    query: Query, database: str, candidates: list[Overdue], chunk: int = 5_000
) -> list[Overdue]:
    done: set[str] = set()
    for start in range(0, len(candidates), chunk):
        ids = [c.event_id for c in candidates[start : start + chunk]]
        done |= events.logged_ids(query, database, "CaseEscalated", ids)
    return [c for c in candidates if c.event_id not in done]


def escalation(item: Overdue) -> Event:
    return new_event(
        "CaseEscalated",
        case_id=item.case_id,
        event_id=item.event_id,
        actor=WATCHDOG_ACTOR,
        source="civicloop-sla-watchdog",
        # The first second past the deadline, recorded then too: a re-emission (another
        # worker, a restart, the simulator) is the same bytes, a redelivery. With the sweep's
        # own time it would be another body under the same id: a conflicting duplicate.
        occurred_at=item.deadline + timedelta(seconds=1),
        recorded_at=item.deadline + timedelta(seconds=1),
        level=LEVELS[item.reason],
        reason=item.reason,
        task_id=item.task_id,
        deadline=item.deadline,
    )


def sweep(query: Query, database: str, send: Callable[[Event], None], now: datetime | None = None) -> int:
    """One pass: emit the escalations due now; return how many were sent."""
    moment = now or datetime.now(UTC)
    due = not_yet_escalated(query, database, overdue(query, database, moment))
    for item in due:
        send(escalation(item))
    return len(due)
