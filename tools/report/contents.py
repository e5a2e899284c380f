"""What a monthly report holds: the dashboard's figures for one calendar month (UTC, as
``civicloop metrics --from YYYY-MM-01 --to <next month>``) against the previous month, the
month's durations and hotspots, and the charts of them (the map over the configured
district boundaries, ``CIVICLOOP_BOUNDARIES``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from civicloop import geography
from civicloop.api.dashboard import charts, figures
from civicloop.projections.metrics import reports
from civicloop.projections.read_model.hotspots import hotspots, month_bounds
from civicloop.projections.store.base import Query


@dataclass(frozen=True)
class Month:
    name: str  # YYYY-MM
    previous: tuple[datetime, datetime]
    period: tuple[datetime, datetime]

    @classmethod
    def parse(cls, name: str) -> Month:
        """'YYYY-MM' as UTC bounds; a ValueError names a bad month."""
        before, start, end = month_bounds(name)
        return cls(name, (before, start), (start, end))


def contents(
    run: Query,
    db: str,
    month: Month,
    now: datetime | None = None,
    utc_offset_s: int = 0,
    boundaries: geography.Boundaries | None = None,
) -> dict[str, Any]:
    """Every figure and chart of the report, as plain data (rendered by ``render.html``)."""
    moment = now or datetime.now(UTC)
    view = figures.View(*month.period, now=moment, before=month.previous)
    trend = figures.trend(run, db, view, "day")
    backlog = figures.backlog(run, db, view)
    problems = figures.problems(run, db, view)
    places = figures.places(run, db, view)
    return {
        "month": month.name,
        "period": {"from": month.period[0], "to": month.period[1]},
        "previous": {"from": month.previous[0], "to": month.previous[1]},
        "generated_at": moment,
        "database": db,
        "headline": figures.headline(run, db, view),
        "league": figures.league(run, db, view)["rows"],
        "problems": problems["rows"],
        "hotspots": hotspots(run, db, month.name, "district", 10, utc_offset_s),
        "durations": reports.durations(run, db, "all", *month.period),
        "signals": figures.signals(run, db, view)["rows"],
        "backlog": backlog,
        "charts": {
            "trend": charts.trend(trend),
            "backlog": charts.backlog(backlog),
            "problems": charts.problems(problems),
            "places": charts.places(places, boundaries or geography.configured()),
        },
    }
