"""A plain-Python oracle for the metrics: read straight from a list of events.

Independent of the fold, the rows and the SQL: it scans each case's events (duplicates by
``event_id`` dropped, delivery order kept) and keeps only what the metric definitions in
``metrics`` name. It assumes the events are legal (illegal ones go to the dead-letter topic,
never to the projections). Times are floored to whole seconds, as the tables store them.
A task's deadlines are None when it was dispatched without them (TaskDispatched v2).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from civicloop.schemas.event import Event


def _s(moment: datetime | None) -> datetime | None:
    return None if moment is None else datetime.fromtimestamp(moment.timestamp() // 1, UTC)


@dataclass
class RefTask:
    department: str
    role: str
    dispatched_at: datetime
    accept_by: datetime | None  # None: no deadline set
    dispose_by: datetime | None
    accepted_at: datetime | None = None
    contacted_at: datetime | None = None
    returned: bool = False
    disposed_at: datetime | None = None


@dataclass
class RefCase:
    dims: dict[str, str]
    reported_at: datetime
    registered_at: datetime | None = None
    first_dispatched_at: datetime | None = None
    closed_at: datetime | None = None
    voided_at: datetime | None = None
    routed_to: str = ""
    lead: str | None = None
    tasks: dict[str, RefTask] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    feedback: tuple[datetime, bool, str] | None = None

    @property
    def due_at(self) -> datetime | None:
        return self.tasks[self.lead].dispose_by if self.lead else None

    def dim(self, name: str) -> str:
        if name == "department":  # a case voided before dispatch: where it had been routed
            return self.tasks[self.lead].department if self.lead else self.routed_to
        return self.dims.get(name, "")


def cases_from(events: list[Event]) -> dict[str, RefCase]:
    seen: set[str] = set()
    cases: dict[str, RefCase] = {}
    for event in events:
        if event.event_id not in seen:
            seen.add(event.event_id)
            _apply(cases, event, _s(event.occurred_at))  # type: ignore[arg-type]
    return cases


def _apply(cases: dict[str, RefCase], e: Event, t: datetime) -> None:
    if e.type == "CaseReported":
        loc = e["location"]
        dims = {
            "category": e["category"],
            "priority": e["priority"],
            "channel": e["channel"],
            "district": loc.get("district") or "",
            "grid": loc.get("grid_id") or "",
        }
        cases[e.case_id] = RefCase(dims, t)
        return
    case = cases[e.case_id]
    task = (
        case.tasks.get(e.get("task_id"))
        if e.type.startswith("Task") or e.type in ("CitizenContacted", "DeadlineExtended")
        else None
    )
    if e.type == "CaseRegistered":
        case.registered_at = t
        case.dims.update(category=e["category"], priority=e["priority"])
    elif e.type == "CaseVoided":
        case.voided_at = t
        case.routed_to = e.get("department") or ""
    elif e.type == "TaskDispatched":
        case.tasks[e["task_id"]] = RefTask(
            e["department"], e["role"], t, _s(e.get("accept_by")), _s(e.get("dispose_by"))
        )
        case.first_dispatched_at = case.first_dispatched_at or t
        case.lead = e["task_id"] if e["role"] == "lead" else case.lead
    elif e.type == "TaskAccepted" and task:
        task.accepted_at = task.accepted_at or t
    elif e.type == "CitizenContacted" and task:
        task.contacted_at = task.contacted_at or t
    elif e.type == "TaskReturned" and task:
        task.returned = True
    elif e.type == "DeadlineExtended" and task:
        task.dispose_by = _s(e["new_dispose_by"])
        case.counts["extensions"] += 1
    elif e.type == "TaskDisposed" and task:
        task.disposed_at = t
        case.counts["disposals"] += 1
    elif e.type == "CaseChecked" and not e["passed"]:
        case.counts["rework"] += 1
        if case.lead:
            case.tasks[case.lead].disposed_at = None  # the rejected disposal does not stand
    elif e.type == "CaseClosed":
        case.closed_at = t
    elif e.type == "CaseReopened":
        case.closed_at = None
    elif e.type == "FeedbackReceived":
        case.feedback = (t, bool(e["resolved"]), e["satisfaction"])
