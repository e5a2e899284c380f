"""Figures as people read them: rich tables that never cut a figure, CSV, JSON.

Shared by the analysts' commands and the demo, so every figure prints the same way.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from civicloop.schemas.ids import csv_text, shown


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def emit(rows: Sequence[dict[str, Any]], fmt: Format, title: str) -> None:
    """Print ``rows`` to stdout in ``fmt``: json (an array), csv, or the table view."""
    if fmt is Format.json:
        print(json.dumps(list(rows), indent=1, default=str))
    elif fmt is Format.csv:
        print(to_csv(rows), end="")
    else:
        print_table(Console(), rows, title)


def to_csv(rows: Sequence[dict[str, Any]]) -> str:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({key: _csv_cell(value) for key, value in row.items()} for row in rows)
    return out.getvalue()


def plain(text: str) -> Text:
    """Text from the data (a city's status, a group's name, an error) as a rich table cell or
    line: never read as rich markup (``[/x]`` in a city's file would end the command with a
    ``MarkupError``), its hidden characters named (``schemas.ids.shown``)."""
    return Text(shown(text))


def _csv_cell(value: Any) -> Any:
    """Text made safe to open in a spreadsheet (``schemas.ids.csv_text``); figures as they are."""
    return csv_text(value) if isinstance(value, str) else value


# The table view keeps the figures analysts read first; json and csv carry every key.
TABLE_COLUMNS = {
    "metrics": (
        ("reported", "reported"),
        ("closed", "closed"),
        ("due", "due"),
        ("closure_rate", "closure"),
        ("on_time_closure_rate", "on time"),
        ("on_time_rate_open_aware", "on time*"),
        ("open_overdue", "overdue"),
        ("response_rate", "response"),
        ("assist_sign_for_rate", "assist sign-for"),
        ("resolution_rate", "resolved"),
        ("satisfaction_rate", "satisfied"),
        ("rework_rate", "rework"),
        ("return_rate", "returns"),
        ("extension_rate", "extended"),
        ("p50_report_to_close_s", "p50 close"),
        ("p90_report_to_close_s", "p90 close"),
    ),
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
    # Rows without a "group" (signals, hotspots, nearby) are labelled by their first key.
    label = "group" if "group" in rows[0] else next(iter(rows[0]))
    columns = TABLE_COLUMNS.get(kind) or tuple((k, k.replace("_", " ")) for k in rows[0] if k != label)
    tables: list[Table] = []
    chunk: list[tuple[str, str]] = []
    for column in columns:
        if chunk and _width(console, _table(rows, title, [*chunk, column], label)) > console.width:
            tables.append(_table(rows, title, chunk, label))
            chunk = []
        chunk.append(column)
    tables.append(_table(rows, title, chunk, label))
    if len(tables) > 1:
        for n, table in enumerate(tables, 1):
            table.title = f"{title} ({n}/{len(tables)})"
    return tables


def _table(
    rows: Sequence[dict[str, Any]], title: str, columns: Sequence[tuple[str, str]], label: str = "group"
) -> Table:
    table = Table(title=title)
    table.add_column(label.replace("_", " "), no_wrap=True)
    for _, header in columns:
        table.add_column(header, justify="right", no_wrap=True)
    for row in rows:
        # a group's name is the data's: plain text (never rich markup: "[/x]" would end the
        # command), its hidden characters named
        name = plain(str(row[label]) or "(none)")
        table.add_row(name, *(_cell(key, row.get(key)) for key, _ in columns))
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
