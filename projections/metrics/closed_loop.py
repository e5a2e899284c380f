"""Closed-loop metrics (docs/DESIGN.md §5) over the projections, on any backend.

The query layer takes ``run(sql) -> list[tuple]`` (a ``Reader``'s ``query``), so the same code
serves chDB and a ClickHouse server. Definitions, for a period P = [from, to) (all time when a
bound is missing) and ``as_of`` = min(to, now):

* reported: cases with ``reported_at`` in P. closed: cases with ``closed_at`` in P (a
  reopened case is not closed). due: cases whose ``due_at`` (lead deadline in force) is in P.
* closure rate = due_closed / due; on-time closure rate = closed_on_time / due, where
  closed_on_time = due in P and ``closed_at <= due_at``.
* on-time rate, open-aware = closed_on_time / (due_closed + open_overdue), where open_overdue
  = due in P, not closed, not voided, ``due_at < as_of``. Restricted to the due-in-P cohort so
  it is a fraction of one set of cases; the unrestricted count is the backlog's overdue state.
* response rate = **lead** tasks dispatched in P accepted and reporter contacted, both at or
  before accept-by / lead tasks dispatched in P with an accept-by (``lead_with_accept_by``):
  contacting the reporter is the lead's duty. assist sign-for rate = assist tasks dispatched
  in P accepted at or before accept-by / assist tasks dispatched in P with an accept-by
  (``assist_with_accept_by``). return rate = tasks returned / tasks dispatched in P (all).
* resolution / satisfaction: over cases whose latest feedback is in P.
* rework (failed checks / disposals) and extension (extensions / registered cases) rates
  count the events of the cases registered in P: rows keep counts, not their times, so the
  ratios belong to the registration cohort and settle once its cases are done.
* p50/p90 report→close: wall seconds over cases closed in P (``quantileExact`` semantics).

**No deadline** (a task dispatched without ``accept_by`` / ``dispose_by``, TaskDispatched v2;
NULL in the tables, e.g. imported history without an SLA). A rate that compares with a
deadline is undefined for such a task or case, so it is left out of that rate entirely —
numerator and denominator — and counted everywhere else:

* NULL ``due_at`` (the lead has no ``dispose_by``): never due in P, so outside closure,
  on-time closure and the open-aware on-time rate; never ``open_overdue``; never overdue in
  the backlog. Still reported / closed / registered in P, with feedback, durations and
  counts as usual. An extension on such a task sets its first deadline (it is due from then).
* NULL ``accept_by``: the task counts in ``dispatched`` (and in the return rate) but in
  neither the response rate nor the assist sign-for rate (numerator and denominator); it is
  never accept-overdue.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from civicloop.projections.metrics import months, rollup
from civicloop.projections.metrics import sql as q
from civicloop.projections.metrics.scope import WHOLE, Scope
from civicloop.projections.store.base import Query

#: the counts of the case query and of the task query, read from them by name: the names of
#: their measures in ``sql.py`` (the case query's with an ``as_of``; its quantiles are not counts)
CASE_COLUMNS = tuple(name for name, _ in q.case_measures(None, None, "as_of") if name != "report_to_close")
TASK_COLUMNS = tuple(name for name, _ in q.task_measures(None, None))
COUNTS = CASE_COLUMNS + TASK_COLUMNS
RATES = {  # name → (numerator, denominator terms)
    "closure_rate": ("due_closed", ("due",)),
    "on_time_closure_rate": ("closed_on_time", ("due",)),
    "on_time_rate_open_aware": ("closed_on_time", ("due_closed", "open_overdue")),
    "response_rate": ("responded", ("lead_with_accept_by",)),
    "assist_sign_for_rate": ("assist_signed_for", ("assist_with_accept_by",)),
    "resolution_rate": ("resolved", ("feedback",)),
    "satisfaction_rate": ("satisfied", ("feedback",)),
    "rework_rate": ("rework", ("disposals",)),
    "return_rate": ("returned", ("dispatched",)),
    "extension_rate": ("extensions", ("registered",)),
}


class MetricQueries(NamedTuple):
    """The two queries of the metrics: case counts and task counts, read back by name."""

    cases: q.Named
    tasks: q.Named


def metric_queries(
    db: str,
    dim: str,
    t_from: datetime | None = None,
    t_to: datetime | None = None,
    now: datetime | None = None,
    scope: Scope = WHOLE,
) -> MetricQueries:
    """The case and the task query; run each with ``scope.params()`` (``sql.named``) and pass
    their rows to ``combine``."""
    return MetricQueries(
        q.case_metrics_sql(db, dim, t_from, t_to, as_of(t_to, now), scope),
        q.task_metrics_sql(db, dim, t_from, t_to, scope),
    )


def as_of(t_to: datetime | None, now: datetime | None) -> datetime:
    moment = now or datetime.now(UTC)
    return moment if t_to is None else min(t_to, moment)


def combine(
    case_rows: Sequence[Mapping[str, Any]], task_rows: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """One dict per group with anything in the period (sorted by group) with counts, rates
    (None on 0/0) and percentiles, from the rows of the case and the task query (by name)."""
    groups: dict[str, dict[str, Any]] = {}
    for row in case_rows:
        out = _group(groups, row["grp"])
        out.update({name: int(row[name]) for name in CASE_COLUMNS})
        closes = row["report_to_close"]
        p50, p90 = _ints(closes) if out["closed"] and closes else (None, None)
        out["p50_report_to_close_s"], out["p90_report_to_close_s"] = p50, p90
    for row in task_rows:
        _group(groups, row["grp"]).update({name: int(row[name]) for name in TASK_COLUMNS})
    # A group with nothing in the period is not listed, whichever months were read for it.
    return [_with_rates(groups[g]) for g in sorted(groups) if any(groups[g][c] for c in COUNTS)]


def metrics(
    run: Query,
    db: str,
    dim: str,
    t_from: datetime | None = None,
    t_to: datetime | None = None,
    now: datetime | None = None,
    scope: Scope = WHOLE,
) -> list[dict[str, Any]]:
    """One dict per group; ``scope`` filters the rows (e.g. one department's) or, as a series
    of periods, makes the groups the periods (see ``series``). All time without filters sums
    the rollup kept with the projection (``rollup.py``) where the database has one."""
    q.group_expr(dim, q.CASES)  # an unknown dimension is refused before anything is read
    whole = not (scope.filters or scope.series or scope.months)
    if t_from is None and t_to is None and whole and rollup.available(run, db):
        return combine(*rollup.all_time(run, db, dim, as_of(None, now)))
    scope = months.pruned(run, db, scope, t_from, t_to)
    cases, tasks = metric_queries(db, dim, t_from, t_to, now, scope)
    return combine(q.named(run, cases, scope.params()), q.named(run, tasks, scope.params()))


def series(
    run: Query,
    db: str,
    periods: Sequence[tuple[datetime, datetime]],
    filters: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """``metrics(run, db, "all", start, end, now)`` for each period, in one scan per table:
    one dict per period, in the order given, with ``group`` = the period's start (a period
    without a single row gets zero counts and None rates)."""
    if not periods:
        return []
    scope = Scope(dict(filters or {}), tuple(periods))
    found = {row["group"]: row for row in metrics(run, db, "all", None, None, now, scope)}
    return [found.get(start) or _with_rates(_group({}, start)) for start, _ in periods]


def _group(groups: dict[str, dict[str, Any]], key: Any) -> dict[str, Any]:
    if key not in groups:
        groups[key] = {
            "group": key,
            **dict.fromkeys(CASE_COLUMNS + TASK_COLUMNS, 0),
            "p50_report_to_close_s": None,
            "p90_report_to_close_s": None,
        }
    return groups[key]


def _with_rates(out: dict[str, Any]) -> dict[str, Any]:
    for name, (num, dens) in RATES.items():
        den = sum(out[d] for d in dens)
        out[name] = out[num] / den if den else None
    return out


def _ints(values: Any) -> list[int | None]:
    return [None if v is None else int(v) for v in values or ()]
