"""Analysts' commands: ``civicloop metrics``, ``durations``, ``backlog`` (docs/DESIGN.md §5)
and ``sql``.

They read through :func:`~civicloop.cli.common.read`, so they work on a server, on a chDB directory, and on a
chDB directory held by a running worker (through the worker's read-only SQL view).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import typer

from civicloop.cli.common import Dimension, configured, console, parse_time, read
from civicloop.projections.backend import open_reader
from civicloop.projections.metrics import closed_loop, reports
from civicloop.projections.metrics.scope import Scope
from civicloop.projections.store.base import Query
from civicloop.tools.output import Format, emit

From = Annotated[str | None, typer.Option("--from", help="Period start, inclusive (ISO; UTC if no offset).")]
To = Annotated[str | None, typer.Option("--to", help="Period end, exclusive (ISO; UTC if no offset).")]
By = Annotated[Dimension, typer.Option("--by", help="Group by this dimension.")]
Fmt = Annotated[Format, typer.Option("--format", help="table, json (an array) or csv.")]
Department = Annotated[
    str | None,
    typer.Option(help="Only this department's cases (as lead) and tasks (as their department)."),
]
Category = Annotated[str | None, typer.Option(help="Only cases and tasks of this category.")]
District = Annotated[str | None, typer.Option(help="Only cases and tasks in this district.")]
Channel = Annotated[str | None, typer.Option(help="Only cases and tasks reported through this channel.")]


def register(app: typer.Typer) -> None:
    app.command()(metrics)
    app.command()(durations)
    app.command()(backlog)
    app.command()(sql)


#: a per-group figure over a period: (query, database, dimension, from, to, scope) → rows
PerGroup = Callable[[Query, str, str, datetime | None, datetime | None, Scope], list[dict[str, Any]]]


def _per_group(name: str, compute: PerGroup, title: str, doc: str) -> Callable[..., None]:
    """The command ``name``: ``compute`` per group over the period the options give, in the
    scope their filters give, shown under ``title`` (``{by}``: the dimension)."""

    def command(
        t_from: From = None,
        t_to: To = None,
        by: By = Dimension.department,
        fmt: Fmt = Format.table,
        department: Department = None,
        category: Category = None,
        district: District = None,
        channel: Channel = None,
    ) -> None:
        scope = _scope(department, category, district, channel)
        start, end = parse_time(t_from), parse_time(t_to)
        rows = _run(lambda run, db: compute(run, db, by.value, start, end, scope), by)
        emit(rows, fmt, title.format(by=by.value))

    command.__name__ = command.__qualname__ = name
    command.__doc__ = doc
    return command


metrics = _per_group(
    "metrics",
    lambda run, db, by, start, end, scope: closed_loop.metrics(run, db, by, start, end, scope=scope),
    "metrics by {by}",
    "Closed-loop metrics per group: closure, on-time, response, resolution, satisfaction, …",
)
durations = _per_group(
    "durations",
    reports.durations,
    "durations by {by} (seconds)",
    "p50/p90/p99 of report→register→dispatch→accept→dispose→close, wall-clock and working.",
)


def backlog(
    as_of: Annotated[str | None, typer.Option("--as-of", help="Moment (default now).")] = None,
    by: By = Dimension.department,
    fmt: Fmt = Format.table,
    department: Department = None,
    category: Category = None,
    district: District = None,
    channel: Channel = None,
) -> None:
    """Open cases by age bucket and overdue state."""
    scope = _scope(department, category, district, channel)
    rows = _run(lambda run, db: reports.backlog(run, db, by.value, parse_time(as_of), scope), by)
    emit(rows, fmt, f"backlog by {by.value}")


def _scope(department: str | None, category: str | None, district: str | None, channel: str | None) -> Scope:
    """The filters given on the command line (``--department roads`` …), as the queries take them."""
    given = {"department": department, "category": category, "district": district, "channel": channel}
    return Scope({dim: value for dim, value in given.items() if value is not None})


def sql(query: str) -> None:
    """Run one read-only SQL statement against the configured ClickHouse (through the worker for
    chDB), under ClickHouse's read-only enforcement: no writes, DDL, settings, files or URLs."""
    reader = open_reader(configured())
    try:
        for row in reader.query_readonly(query):
            console.print("\t".join("NULL" if v is None else str(v) for v in row), highlight=False)
    finally:
        reader.close()


def _run(compute: Any, by: Dimension) -> list[dict[str, Any]]:
    result = read(compute)
    if by is Dimension.all:
        for row in result:
            row["group"] = "all"
    return result
