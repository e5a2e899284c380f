"""The closed-loop metrics computed in plain Python over ``reference`` cases: the oracle.

Written from the definitions in docs/DESIGN.md §5, not from the code it checks: it imports
nothing from ``civicloop.projections`` (a test enforces that), so a wrong rate definition there
fails the end-to-end comparison instead of passing it. Same output shape as the metrics
JSON (the e2e tests compare the two dict by dict); percentiles use ``quantileExact``
semantics: element ``min(floor(level * n), n - 1)`` of the sorted values.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from civicloop.schemas.event import Event
from civicloop.stats import quantile_exact
from tests.support.reference import RefCase, cases_from

CASE_COUNTS = (
    "reported",
    "closed",
    "due",
    "due_closed",
    "closed_on_time",
    "open_overdue",
    "registered",
    "extensions",
    "disposals",
    "rework",
    "feedback",
    "resolved",
    "satisfied",
)
TASK_COUNTS = (
    "dispatched",
    "lead_with_accept_by",
    "responded",
    "assist_with_accept_by",
    "assist_signed_for",
    "returned",
)


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _rates(c: dict[str, Any]) -> dict[str, float | None]:
    """Each rate exactly as docs/DESIGN.md §5 words it (None on a zero denominator)."""
    return {
        # cases due in P that are closed / cases due in P
        "closure_rate": _ratio(c["due_closed"], c["due"]),
        # cases due in P closed by their deadline / cases due in P
        "on_time_closure_rate": _ratio(c["closed_on_time"], c["due"]),
        # closed on time / (closed + open and overdue), over the due-in-P cohort
        "on_time_rate_open_aware": _ratio(c["closed_on_time"], c["due_closed"] + c["open_overdue"]),
        # lead tasks accepted and contacted by accept-by / lead tasks with an accept-by
        "response_rate": _ratio(c["responded"], c["lead_with_accept_by"]),
        # assist tasks accepted by accept-by / assist tasks with an accept-by
        "assist_sign_for_rate": _ratio(c["assist_signed_for"], c["assist_with_accept_by"]),
        # feedback saying resolved / feedback
        "resolution_rate": _ratio(c["resolved"], c["feedback"]),
        # feedback satisfied or basically satisfied / feedback
        "satisfaction_rate": _ratio(c["satisfied"], c["feedback"]),
        # failed checks / disposals
        "rework_rate": _ratio(c["rework"], c["disposals"]),
        # task returns / task dispatches
        "return_rate": _ratio(c["returned"], c["dispatched"]),
        # extensions / registered cases
        "extension_rate": _ratio(c["extensions"], c["registered"]),
    }


Period = tuple[datetime | None, datetime | None]


def reference_metrics(
    events: list[Event],
    dim: str,
    t_from: datetime | None = None,
    t_to: datetime | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    moment = now or datetime.now(UTC)
    as_of = moment if t_to is None else min(t_to, moment)
    inp = _period(t_from, t_to)
    groups: dict[str, dict[str, Any]] = defaultdict(
        lambda: dict.fromkeys(CASE_COUNTS + TASK_COUNTS, 0) | {"closes": []}
    )
    for case in cases_from(events).values():
        _case_counts(groups[_dim(case, dim)], case, inp, as_of)
        for task in case.tasks.values():
            out = groups[task.department if dim == "department" else _dim(case, dim)]
            if inp(task.dispatched_at):
                out["dispatched"] += 1
                out["returned"] += task.returned
                # no accept-by: outside both rates, numerator and denominator
                if task.accept_by is None:
                    continue
                if task.role == "lead":  # contacting the reporter is the lead's duty
                    out["lead_with_accept_by"] += 1
                    out["responded"] += _responded(task)
                else:  # an assist only has to sign for its task in time
                    out["assist_with_accept_by"] += 1
                    out["assist_signed_for"] += _on_time(task.accepted_at, task.accept_by)
    # a group with nothing in the period (no count above zero) is not listed
    return [
        _finish(name, out)
        for name, out in sorted(groups.items())
        if any(out[c] for c in CASE_COUNTS + TASK_COUNTS)
    ]


def _case_counts(out: dict[str, Any], c: RefCase, inp: Callable[[Any], bool], as_of: datetime) -> None:
    due_in = inp(c.due_at)  # False without a deadline: such a case is never due nor overdue
    add = {
        "reported": inp(c.reported_at),
        "closed": inp(c.closed_at),
        "due": due_in,
        "due_closed": due_in and c.closed_at is not None,
        "closed_on_time": due_in and c.closed_at is not None and c.closed_at <= c.due_at,
        "open_overdue": due_in and c.closed_at is None and c.voided_at is None and c.due_at < as_of,  # type: ignore[operator]
        "registered": inp(c.registered_at),
    }
    if add["registered"]:
        for key in ("extensions", "disposals", "rework"):
            out[key] += c.counts[key]
    if c.feedback and inp(c.feedback[0]):
        out["feedback"] += 1
        out["resolved"] += c.feedback[1]
        out["satisfied"] += c.feedback[2] in ("satisfied", "basically_satisfied")
    if add["closed"]:
        out["closes"].append(int((c.closed_at - c.reported_at).total_seconds()))  # type: ignore[operator]
    for key, value in add.items():
        out[key] += bool(value)


def _responded(task: Any) -> bool:
    return _on_time(task.accepted_at, task.accept_by) and _on_time(task.contacted_at, task.accept_by)


def _on_time(done: datetime | None, by: datetime) -> bool:
    return done is not None and done <= by


def _finish(name: str, out: dict[str, Any]) -> dict[str, Any]:
    closes = out.pop("closes")
    out = {
        "group": name,
        **out,
        "p50_report_to_close_s": quantile_exact(closes, 0.5),
        "p90_report_to_close_s": quantile_exact(closes, 0.9),
    }
    return out | _rates(out)


def _dim(case: RefCase, dim: str) -> str:
    return "" if dim == "all" else case.dim("grid" if dim == "grid" else dim)


def _period(t_from: datetime | None, t_to: datetime | None) -> Callable[[Any], bool]:
    def inside(moment: datetime | None) -> bool:
        return moment is not None and (t_from is None or moment >= t_from) and (t_to is None or moment < t_to)

    return inside


#: duration → (on a task?, its start, its end): a duration counts in the period in which it ended
DURATIONS = {
    "report_to_register": (False, "reported_at", "registered_at"),
    "register_to_dispatch": (False, "registered_at", "first_dispatched_at"),
    "report_to_close": (False, "reported_at", "closed_at"),
    "dispatch_to_accept": (True, "dispatched_at", "accepted_at"),
    "dispatch_to_dispose": (True, "dispatched_at", "disposed_at"),
}
LEVELS = (0.5, 0.9, 0.99)


def reference_durations(
    events: list[Event], dim: str, t_from: datetime | None = None, t_to: datetime | None = None
) -> list[dict[str, Any]]:
    """Per group and duration ended in the period: n and the wall-clock p50/p90/p99 in whole
    seconds (``quantileExact`` semantics); a task's department groups its task durations."""
    inp = _period(t_from, t_to)
    found: dict[tuple[str, str], list[int]] = defaultdict(list)
    for case in cases_from(events).values():
        for name, (on_task, start, end) in DURATIONS.items():
            for row in case.tasks.values() if on_task else (case,):
                began, ended = getattr(row, start), getattr(row, end)
                if began is not None and inp(ended):
                    group = row.department if on_task and dim == "department" else _dim(case, dim)
                    found[(group, name)].append(int(ended.timestamp()) - int(began.timestamp()))
    return [
        {
            "group": group,
            "duration": name,
            "n": len(values),
            **{f"wall_p{round(level * 100)}": quantile_exact(values, level) for level in LEVELS},
        }
        for (group, name), values in sorted(found.items())
    ]
