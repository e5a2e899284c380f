"""The dashboard's and the monthly report's figures, from the queries behind ``civicloop
metrics``, ``durations`` and ``backlog`` (docs/DASHBOARD.md, "One source of numbers").

Every number here is a field of what those functions return for the same period and
filters; this module only picks, ranks and compares. A :class:`View` is what a person chose:
a period [start, end) and filters. Its previous period is the one of the same length just
before it, so "change" always compares like with like.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from civicloop.projections.metrics import closed_loop, reports
from civicloop.projections.metrics.scope import Scope
from civicloop.projections.metrics.sql import AGE_BUCKETS
from civicloop.projections.read_model import cases
from civicloop.projections.read_model import signals as raised
from civicloop.projections.store.base import Query

DAY = timedelta(days=1)
#: the steps a trend may take, and the most periods one trend may have
STEPS = {"day": DAY, "week": 7 * DAY}
MAX_PERIODS = 400
#: (key in the metrics, label, kind): the headline figures, in the order they are shown
HEADLINE = (
    ("response_rate", "Response rate", "rate"),
    ("resolution_rate", "Resolution rate", "rate"),
    ("satisfaction_rate", "Satisfaction rate", "rate"),
    ("closure_rate", "Closure rate", "rate"),
    ("on_time_closure_rate", "On-time closure rate", "rate"),
    ("reported", "Reported", "count"),
    ("closed", "Closed", "count"),
)
#: the league table's columns (keys of the metrics by department), ranked by the first
LEAGUE = (
    "on_time_closure_rate",
    "satisfaction_rate",
    "closure_rate",
    "response_rate",
    "return_rate",
    "rework_rate",
    "due",
    "reported",
    "returned",
    "rework",
)
#: signals a dashboard page lists at once (the rest are paged)
SIGNALS_PAGE = 20
BUCKETS = tuple(label for _, label in AGE_BUCKETS) + (">=30d",)


@dataclass(frozen=True)
class View:
    """A period [start, end) and filters (dimension → value), as of ``now`` (None: the clock).
    ``before`` is the period it is compared with: by default the one of the same length just
    before it (a monthly report names the previous calendar month instead)."""

    start: datetime
    end: datetime
    filters: Mapping[str, str] = field(default_factory=dict)
    now: datetime | None = None
    before: tuple[datetime, datetime] | None = None

    def __post_init__(self) -> None:
        if not self.start < self.end:
            raise ValueError(f"the period must end after it starts: from {self.start} to {self.end}")

    @property
    def scope(self) -> Scope:
        return Scope(dict(self.filters))

    @property
    def previous(self) -> tuple[datetime, datetime]:
        return self.before or (self.start - (self.end - self.start), self.start)

    @property
    def as_of(self) -> datetime:
        """The moment the backlog is counted at: the end of the period, or now if sooner."""
        return closed_loop.as_of(self.end, self.now)


def headline(run: Query, db: str, view: View) -> dict[str, Any]:
    """The headline figures of the period beside the previous period's, with the change; the
    metrics are ``civicloop metrics --by all`` of each period, the backlog ``civicloop backlog
    --by all`` at the end of each."""
    previous, current = closed_loop.series(
        run, db, [view.previous, (view.start, view.end)], view.filters, view.now
    )
    tiles = [_tile(key, label, kind, current[key], previous[key]) for key, label, kind in HEADLINE]
    now_open, now_overdue = _open(run, db, view.as_of, view.scope)
    then_open, then_overdue = _open(run, db, closed_loop.as_of(view.previous[1], view.now), view.scope)
    tiles.append(_tile("backlog", "Open cases (backlog)", "count", now_open, then_open))
    tiles.append(_tile("backlog_overdue", "Open and overdue", "count", now_overdue, then_overdue))
    return {
        "period": _period(view.start, view.end),
        "previous_period": _period(*view.previous),
        "as_of": view.as_of,
        "command": same_figures(view),
        "tiles": tiles,
        "current": current,
        "previous": previous,
    }


def same_figures(view: View) -> str:
    """The ``civicloop metrics`` command line that prints the period's figures, every argument
    quoted for a POSIX shell: the filters come from a URL anyone can craft, and a person may
    paste the line into a terminal."""
    words = [
        "civicloop",
        "metrics",
        "--by",
        "all",
        "--from",
        _cli_time(view.start),
        "--to",
        _cli_time(view.end),
    ]
    for dimension, value in sorted(view.filters.items()):
        words += [f"--{dimension}", value]
    return shlex.join([*words, "--format", "json"])


def _cli_time(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    if utc == utc.replace(hour=0, minute=0, second=0, microsecond=0):
        return utc.date().isoformat()
    return utc.replace(tzinfo=None).isoformat()


def trend(run: Query, db: str, view: View, step: str | None = None) -> dict[str, Any]:
    """Reported, closed and the on-time closure rate per day or week (``step``; by default
    days for up to 62 days, else weeks): ``civicloop metrics --by all`` of each step."""
    chosen = step or ("day" if view.end - view.start <= 62 * DAY else "week")
    if chosen not in STEPS:
        raise ValueError(f"step {chosen!r}: use day or week")
    periods = _periods(view.start, view.end, STEPS[chosen])
    rows = closed_loop.series(run, db, periods, view.filters, view.now)
    return {
        "step": chosen,
        "rows": [
            {**row, "start": start, "end": end} for row, (start, end) in zip(rows, periods, strict=True)
        ],
    }


def backlog(run: Query, db: str, view: View) -> dict[str, Any]:
    """Open cases at the end of the period by age bucket and overdue state (``civicloop
    backlog --by all --as-of END``), every bucket present."""
    found = {
        (row["age_bucket"], row["overdue"]): row["cases"]
        for row in reports.backlog(run, db, "all", view.as_of, view.scope)
    }
    rows = [
        {
            "age_bucket": bucket,
            "overdue": found.get((bucket, True), 0),
            "not_overdue": found.get((bucket, False), 0),
        }
        for bucket in BUCKETS
    ]
    return {"as_of": view.as_of, "rows": rows}


def league(run: Query, db: str, view: View) -> dict[str, Any]:
    """Departments ranked by on-time closure, then satisfaction (``civicloop metrics --by
    department`` of the period): the monthly assessment. A department with nothing due is
    ranked after those with a rate."""
    rows = closed_loop.metrics(run, db, "department", view.start, view.end, view.now, view.scope)
    return {
        "rows": [
            {"rank": n, "department": row["group"], **{key: row[key] for key in LEAGUE}}
            for n, row in enumerate(ranked(rows), 1)
        ]
    }


def ranked(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Departments best first: on-time closure, then satisfaction, then name; a rate that is
    None (nothing due, no feedback) after every rate; rows without a department left out."""
    return sorted(
        (row for row in rows if row["group"]),
        key=lambda r: (
            _missing_last(r["on_time_closure_rate"]),
            _missing_last(r["satisfaction_rate"]),
            r["group"],
        ),
    )


def problems(run: Query, db: str, view: View, limit: int = 10) -> dict[str, Any]:
    """The categories with most cases reported in the period, with the previous period's count
    (``civicloop metrics --by category`` of both periods)."""
    now = closed_loop.metrics(run, db, "category", view.start, view.end, view.now, view.scope)
    before = {
        row["group"]: row["reported"]
        for row in closed_loop.metrics(run, db, "category", *view.previous, view.now, view.scope)
    }
    ranked = sorted(
        (r for r in now if r["reported"] and r["group"]), key=lambda r: (-r["reported"], r["group"])
    )
    return {
        "rows": [
            {
                "rank": n,
                "category": row["group"],
                "reported": row["reported"],
                "previous": before.get(row["group"], 0),
                "change": _change(row["reported"], before.get(row["group"], 0), "count"),
                "closure_rate": row["closure_rate"],
                "satisfaction_rate": row["satisfaction_rate"],
            }
            for n, row in enumerate(ranked[:limit], 1)
        ]
    }


def signals(run: Query, db: str, view: View) -> dict[str, Any]:
    """The signals raised in the period (``civicloop signals --from --to``), narrowed to the
    category filter and — for district-level signals — the district filter."""
    rows = raised.between(run, db, view.start, view.end)
    category, district = view.filters.get("category"), view.filters.get("district")
    kept = [
        row
        for row in rows
        if (category is None or row["category"] == category)
        and (district is None or row["level"] != "district" or row["place"] == district)
    ]
    return {"rows": kept[::-1]}  # latest first


def page(rows: list[dict[str, Any]], number: int, size: int) -> dict[str, Any]:
    """Page ``number`` (from 1) of ``rows``, ``size`` a page: the rows, and where they are in
    the whole (a page past the end has no rows)."""
    return {
        "rows": rows[(number - 1) * size : number * size],
        "page": number,
        "pages": max(1, -(-len(rows) // size)),
        "page_size": size,
        "total": len(rows),
    }


def places(run: Query, db: str, view: View) -> dict[str, Any]:
    """Cases reported in the period, where they are and their state (a fixed sample)."""
    return cases.points(run, db, view.start, view.end, view.scope)


def _open(run: Query, db: str, moment: datetime, scope: Scope) -> tuple[int, int]:
    rows = reports.backlog(run, db, "all", moment, scope)
    return sum(r["cases"] for r in rows), sum(r["cases"] for r in rows if r["overdue"])


def _tile(key: str, label: str, kind: str, value: Any, previous: Any) -> dict[str, Any]:
    return {
        "key": key,
        "label": label,
        "kind": kind,
        "value": value,
        "previous": previous,
        "change": _change(value, previous, kind),
    }


def _change(value: float | None, previous: float | None, kind: str) -> float | None:
    """Rates: the difference (a fraction; shown in percentage points). Counts: the relative
    change (None from zero)."""
    if value is None or previous is None:
        return None
    if kind == "rate":
        return value - previous
    return (value - previous) / previous if previous else None


def _periods(start: datetime, end: datetime, step: timedelta) -> list[tuple[datetime, datetime]]:
    count = -(-(end - start) // step)
    if count > MAX_PERIODS:
        raise ValueError(
            f"{count} steps of {step.days} day(s) is too many for one trend (at most {MAX_PERIODS})"
        )
    return [(start + i * step, min(start + (i + 1) * step, end)) for i in range(count)]


def _period(start: datetime, end: datetime) -> dict[str, datetime]:
    return {"from": start, "to": end}


def _missing_last(rate: float | None) -> tuple[int, float]:
    return (1, 0.0) if rate is None else (0, -rate)


def default_period(now: datetime | None = None, days: int = 30) -> tuple[datetime, datetime]:
    """The last ``days`` whole UTC days up to and including today."""
    today = (now or datetime.now(UTC)).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + DAY - days * DAY, today + DAY
