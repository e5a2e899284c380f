"""Dispatch → accept → dispose → check → close: the department side of one round of a case.

Escalations are written only where the watchdog would really fire: a deadline passed and the
next step (accept or return; dispose) had not happened yet.
"""

from __future__ import annotations

import random
from typing import Any

from civicloop.streams.watchdog import LEVELS, escalation_event_id
from civicloop.tools.simulate.case import (
    Case,
    agent,
    between,
    deadlines,
    dept,
    lognormal,
    ts,
    watchdog,
)
from civicloop.tools.simulate.config import HOUR, MIN, SimConfig

# (time, event type, actor, app, fields): steps written out of order, sorted before adding
Pending = list[tuple[int, str, dict[str, str], str, dict[str, Any]]]
_RETURN_REASONS = ("wrong_area", "unclear_ownership", "not_our_duty", "insufficient_info", "other")


def flush(case: Case, pending: Pending) -> None:
    for t, etype, actor, app, fields in sorted(pending, key=lambda p: p[0]):
        case.add(t, etype, actor, app, **fields)
    pending.clear()


def dispatch(case: Case, rng: random.Random, t: int, name: str, role: str) -> tuple[str, int, int]:
    accept_by, dispose_by, _ = deadlines(case.category, case.priority, t)
    task = case.new_task_id()
    case.add(
        t,
        "TaskDispatched",
        agent(rng),
        "hotline",
        task_id=task,
        department=name,
        role=role,
        accept_by=ts(accept_by),
        dispose_by=ts(dispose_by),
    )
    return task, accept_by, dispose_by


def overdue(case_id: str, task: str, deadline: int, done: int, reason: str) -> Pending:
    """What the real SLA watchdog emits when the next step came only at `done`: one
    escalation per (task, deadline), with the watchdog's own deterministic event id."""
    if deadline + 1 >= done:
        return []
    fields = {
        "event_id": escalation_event_id(case_id, task, reason, ts(deadline)),
        "level": LEVELS[reason],
        "reason": reason,
        "task_id": task,
        "deadline": ts(deadline),
    }
    return [(deadline + 1, "CaseEscalated", watchdog(), "watchdog", fields)]


def _office_wait(cfg: SimConfig, case: Case, rng: random.Random, t: int) -> int:
    """Seconds a non-urgent task dispatched at night waits for the morning shift."""
    hour = (t + int(cfg.utc_offset.total_seconds())) // HOUR % 24
    if case.priority == "urgent" or 8 <= hour < 19 or rng.random() >= cfg.rates.night_wait:
        return 0
    return ((8 - hour) % 24) * HOUR + between(rng, 0, 90 * MIN)


def until_accepted(
    cfg: SimConfig, case: Case, rng: random.Random, t: int, assists: tuple[str, ...]
) -> tuple[int, str, str, int, list[str]]:
    """Dispatch the lead (plus assists), following returns (退单) until a department accepts.

    Returns (accept time, lead task, its department, dispose_by, assist task ids)."""
    cat, name = case.category, case.category.lead
    for attempt in range(3):
        task, accept_by, dispose_by = dispatch(case, rng, t, name, "lead")
        helpers = [dispatch(case, rng, t, other, "assist")[0] for other in assists]
        done = t + lognormal(rng, (accept_by - t) * 0.3, 0.9) + _office_wait(cfg, case, rng, t)
        # The watchdog escalates a deadline the moment it passes, accepted or not: a dispose-by
        # already past when the task is accepted (or returned) is escalated then too.
        missed = overdue(case.case_id, task, accept_by, done, "accept_overdue")
        flush(case, missed + overdue(case.case_id, task, dispose_by, done, "dispose_overdue"))
        # Joint tasks are not returned: the assists are already working on the case.
        if attempt < 2 and not assists and cat.others and rng.random() < cat.p_return:
            t = case.add(
                done,
                "TaskReturned",
                dept(name),
                "dept",
                task_id=task,
                reason=rng.choice(_RETURN_REASONS),
                note=None,
            )
            name = rng.choice([d for d in cat.others if d != name] or [cat.lead])
            t += lognormal(rng, 20 * MIN, 0.8)
            continue
        t = case.add(done, "TaskAccepted", dept(name), "dept", task_id=task)
        return t, task, name, dispose_by, helpers
    raise AssertionError("unreachable: the last attempt always accepts")
