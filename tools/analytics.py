"""Analysts' commands: ``civicloop metrics``, ``durations`` and ``backlog`` (DESIGN §5).

They read through :func:`open_reader`, so they work on a server, on a chDB directory, and on a
chDB directory held by a running worker (through the worker's read-only SQL view).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from civicloop import config as config_module
from civicloop import log
from civicloop.projections import metrics as metrics_module
from civicloop.projections import reports
from civicloop.projections.reader import open_reader


class Dimension(StrEnum):
    department = "department"
    category = "category"
    district = "district"
    grid = "grid"
    channel = "channel"
    priority = "priority"
    all = "all"


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def parse_time(value: str | None) -> datetime | None:
    """ISO date or date-time; without an offset it is read as UTC."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO date or date-time "
                                 "(e.g. 2024-05-01 or 2024-05-01T08:00:00+08:00)") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


From = Annotated[str | None, typer.Option("--from", help="Period start, inclusive (ISO; UTC if no offset).")]
To = Annotated[str | None, typer.Option("--to", help="Period end, exclusive (ISO; UTC if no offset).")]
By = Annotated[Dimension, typer.Option("--by", help="Group by this dimension.")]
Fmt = Annotated[Format, typer.Option("--format", help="table, json (an array) or csv.")]


def register(app: typer.Typer) -> None:
    app.command()(metrics)
    app.command()(durations)
    app.command()(backlog)


def metrics(t_from: From = None, t_to: To = None, by: By = Dimension.department,
            fmt: Fmt = Format.table) -> None:
    """Closed-loop metrics per group: closure, on-time, response, resolution, satisfaction, …"""
    rows = _run(lambda run, db: metrics_module.metrics(run, db, by.value, parse_time(t_from),
                                                       parse_time(t_to)), by)
    _emit(rows, fmt, f"metrics by {by.value}")


def durations(t_from: From = None, t_to: To = None, by: By = Dimension.department,
              fmt: Fmt = Format.table) -> None:
    """p50/p90/p99 of report→register→dispatch→accept→dispose→close, wall-clock and working."""
    rows = _run(lambda run, db: reports.durations(run, db, by.value, parse_time(t_from),
                                                  parse_time(t_to)), by)
    _emit(rows, fmt, f"durations by {by.value} (seconds)")


def backlog(as_of: Annotated[str | None, typer.Option("--as-of", help="Moment (default now).")] = None,
            by: By = Dimension.department, fmt: Fmt = Format.table) -> None:
    """Open cases by age bucket and overdue state."""
    rows = _run(lambda run, db: reports.backlog(run, db, by.value, parse_time(as_of)), by)
    _emit(rows, fmt, f"backlog by {by.value}")


def _run(compute: Any, by: Dimension) -> list[dict[str, Any]]:
    log.configure()
    cfg = config_module.load()
    reader = open_reader(cfg)
    try:
        result: list[dict[str, Any]] = compute(reader.query, cfg.database)
    finally:
        reader.close()
    if by is Dimension.all:
        for row in result:
            row["group"] = "all"
    return result


def _emit(rows: Sequence[dict[str, Any]], fmt: Format, title: str) -> None:
    if fmt is Format.json:
        typer.echo(json.dumps(list(rows), indent=1, default=str))
    elif fmt is Format.csv:
        typer.echo(to_csv(rows), nl=False)
    else:
        print_table(Console(), rows, title)


def to_csv(rows: Sequence[dict[str, Any]]) -> str:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return out.getvalue()


# The table view keeps the figures analysts read first; json and csv carry every key.
TABLE_COLUMNS = {
    "metrics": (("reported", "reported"), ("closed", "closed"), ("due", "due"),
                ("closure_rate", "closure"), ("on_time_closure_rate", "on time"),
                ("on_time_rate_open_aware", "on time*"), ("open_overdue", "overdue"),
                ("response_rate", "response"), ("resolution_rate", "resolved"),
                ("satisfaction_rate", "satisfied"), ("rework_rate", "rework"),
                ("return_rate", "returns"), ("extension_rate", "extended"),
                ("p50_report_to_close_s", "p50 close"), ("p90_report_to_close_s", "p90 close")),
}


def print_table(console: Console, rows: Sequence[dict[str, Any]], title: str) -> None:
    """Print the table view, split into several tables (the group column repeated) when it
    is wider than the console, so no figure is ever cut to "…"."""
    for table in to_tables(rows, title, console):
        console.print(table)


def to_tables(rows: Sequence[dict[str, Any]], title: str, console: Console) -> list[Table]:
    """One row per group; for metrics only the headline figures (``on time*`` = open-aware)."""
    if not rows:
        table = Table(title=title)
        table.add_column("no rows: nothing projected in this period")
        return [table]
    kind = title.split()[0]
    columns = TABLE_COLUMNS.get(kind) or tuple((k, k.replace("_", " ")) for k in rows[0] if k != "group")
    tables: list[Table] = []
    chunk: list[tuple[str, str]] = []
    for column in columns:
        if chunk and _width(console, _table(rows, title, [*chunk, column])) > console.width:
            tables.append(_table(rows, title, chunk))
            chunk = []
        chunk.append(column)
    tables.append(_table(rows, title, chunk))
    if len(tables) > 1:
        for n, table in enumerate(tables, 1):
            table.title = f"{title} ({n}/{len(tables)})"
    return tables


def _table(rows: Sequence[dict[str, Any]], title: str, columns: Sequence[tuple[str, str]]) -> Table:
    table = Table(title=title)
    table.add_column("group", no_wrap=True)
    for _, header in columns:
        table.add_column(header, justify="right", no_wrap=True)
    for row in rows:
        table.add_row(str(row["group"]) or "(none)", *(_cell(key, row.get(key)) for key, _ in columns))
    return table


def _width(console: Console, table: Table) -> int:
    # Measured without the console's limit: the natural width the table wants.
    return Measurement.get(console, console.options.update_width(100_000), table).maximum


def _cell(name: str, value: Any) -> str:
    if value is None:
        return "–"
    if "_rate" in name:
        return f"{value:.1%}"
    if name.endswith("_s") and isinstance(value, int):
        return f"{value / 3600:.1f} h"
    return str(value)
