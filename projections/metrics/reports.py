"""Duration percentiles and backlog (docs/DESIGN.md §5) over the projections, on any backend."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from civicloop.projections.metrics import months, rollup, settled
from civicloop.projections.metrics import sql as q
from civicloop.projections.metrics.scope import WHOLE, Scope
from civicloop.projections.store.base import Query


def durations(
    run: Query,
    db: str,
    dim: str,
    t_from: datetime | None = None,
    t_to: datetime | None = None,
    scope: Scope = WHOLE,
) -> list[dict[str, Any]]:
    """Per group and duration: n and p50/p90/p99 in wall-clock and in working seconds.

    A duration counts in the period in which it ended (e.g. report→close for cases closed
    in P, dispatch→accept for tasks accepted in P).
    """
    out = []
    scope = months.pruned(run, db, scope, t_from, t_to)
    for table in q.TABLES:
        for row in q.named(run, q.durations_sql(db, dim, table, t_from, t_to, scope), scope.params()):
            for name in q.durations_of(table):
                n = int(row[f"n_{name}"])
                if n:
                    out.append(
                        {
                            "group": row["grp"],
                            "duration": name,
                            "n": n,
                            **_levels("wall", row[f"wall_{name}"]),
                            **_levels("working", row[f"working_{name}"]),
                        }
                    )
    return sorted(out, key=lambda r: (r["group"], r["duration"]))


def backlog(
    run: Query, db: str, dim: str, as_of: datetime | None = None, scope: Scope = WHOLE
) -> list[dict[str, Any]]:
    """Open cases as of a moment (default now) by group, age bucket and overdue state; the
    months settled by then from the rollup where the database keeps one (``settled.py``)."""
    moment = as_of or datetime.now(UTC)
    if rollup.available(run, db):
        found = settled.backlog(run, db, dim, moment, scope)
        if found is not None:
            return found
    return [
        {
            "group": r["grp"],
            "age_bucket": r["age_bucket"],
            "overdue": bool(int(r["overdue"])),
            "cases": int(r["cases"]),
        }
        for r in q.named(run, q.backlog_sql(db, dim, moment, scope), scope.params())
    ]


def _levels(clock: str, values: Any) -> dict[str, int | None]:
    values = list(values or ())
    return {
        f"{clock}_p{round(level * 100)}": int(values[i]) if i < len(values) else None
        for i, level in enumerate(q.LEVELS)
    }
