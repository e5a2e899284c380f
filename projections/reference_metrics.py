"""The metric definitions of ``metrics`` computed in plain Python over ``reference`` cases.

Same output shape as ``metrics.combine`` (the e2e tests compare the two dict by dict);
percentiles use ``quantileExact`` semantics: element ``min(floor(level * n), n - 1)`` of the
sorted values.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from civicloop.projections.metrics import CASE_COLUMNS, RATES, TASK_COLUMNS
from civicloop.projections.reference import RefCase, cases_from
from civicloop.schemas.event import Event

Period = tuple[datetime | None, datetime | None]


def quantile_exact(values: list[int], level: float) -> int | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(int(level * len(ordered)), len(ordered) - 1)]


def reference_metrics(events: list[Event], dim: str, t_from: datetime | None = None,
                      t_to: datetime | None = None,
                      now: datetime | None = None) -> list[dict[str, Any]]:
    moment = now or datetime.now(UTC)
    as_of = moment if t_to is None else min(t_to, moment)
    inp = _period(t_from, t_to)
    groups: dict[str, dict[str, Any]] = defaultdict(
        lambda: dict.fromkeys(CASE_COLUMNS + TASK_COLUMNS, 0) | {"closes": []})
    for case in cases_from(events).values():
        _case_counts(groups[_dim(case, dim)], case, inp, as_of)
        for task in case.tasks.values():
            out = groups[task.department if dim == "department" else _dim(case, dim)]
            if inp(task.dispatched_at):
                out["dispatched"] += 1
                # no accept-by: outside the response rate, numerator and denominator
                out["dispatched_with_accept_by"] += task.accept_by is not None
                out["responded"] += _responded(task)
                out["returned"] += task.returned
    return [_finish(name, out) for name, out in sorted(groups.items())]


def _case_counts(out: dict[str, Any], c: RefCase, inp: Callable[[Any], bool],
                 as_of: datetime) -> None:
    due_in = inp(c.due_at)  # False without a deadline: such a case is never due nor overdue
    add = {"reported": inp(c.reported_at), "closed": inp(c.closed_at), "due": due_in,
           "due_closed": due_in and c.closed_at is not None,
           "closed_on_time": due_in and c.closed_at is not None and c.closed_at <= c.due_at,
           "open_overdue": due_in and c.closed_at is None and c.voided_at is None
           and c.due_at < as_of,  # type: ignore[operator]
           "registered": inp(c.registered_at)}
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
    return (task.accept_by is not None
            and task.accepted_at is not None and task.contacted_at is not None
            and task.accepted_at <= task.accept_by and task.contacted_at <= task.accept_by)


def _finish(name: str, out: dict[str, Any]) -> dict[str, Any]:
    closes = out.pop("closes")
    out = {"group": name, **out, "p50_report_to_close_s": quantile_exact(closes, 0.5),
           "p90_report_to_close_s": quantile_exact(closes, 0.9)}
    for rate, (num, dens) in RATES.items():
        den = sum(out[d] for d in dens)
        out[rate] = out[num] / den if den else None
    return out


def _dim(case: RefCase, dim: str) -> str:
    return "" if dim == "all" else case.dim("grid" if dim == "grid" else dim)


def _period(t_from: datetime | None, t_to: datetime | None) -> Callable[[Any], bool]:
    def inside(moment: datetime | None) -> bool:
        return moment is not None and (t_from is None or moment >= t_from) and \
            (t_to is None or moment < t_to)
    return inside
