"""``civicloop import FORMAT FILE``: a city's 311 export as lifecycle events, on Kafka or in a file."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from civicloop import config as config_module
from civicloop import log
from civicloop.tools import feed
from civicloop.tools.ingest import baltimore311, mapping, nyc311
from civicloop.tools.ingest.report import ImportResult, Report
from civicloop.tools.simulate.jsonl import write_jsonl


class Format(StrEnum):
    baltimore311 = "baltimore311"
    nyc311 = "nyc311"
    mapping = "mapping"


def read(fmt: Format, path: Path, tz: str | None, spec: Path | None) -> ImportResult:
    if not path.exists():
        raise typer.BadParameter(f"{path} does not exist", param_hint="FILE")
    if fmt is Format.mapping:
        if spec is None:
            raise typer.BadParameter("format 'mapping' needs --mapping city.toml")
        return mapping.read(path, spec, tz)
    module = baltimore311 if fmt is Format.baltimore311 else nyc311
    return module.read(path, tz) if tz else module.read(path)


def import_command(
    fmt: Annotated[Format, typer.Argument(metavar="FORMAT", help="baltimore311, nyc311 or mapping")],
    path: Annotated[Path, typer.Argument(metavar="FILE", help="The city's CSV export, as it comes.")],
    tz: Annotated[
        str | None, typer.Option(help="Zone of naive local times (default America/New_York).")
    ] = None,
    spec: Annotated[
        Path | None, typer.Option("--mapping", help="TOML column mapping (FORMAT mapping).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Write JSON Lines here instead of producing to Kafka.")
    ] = None,
    wait: Annotated[bool, typer.Option(help="Return only when the projections include every event.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds --wait may take.")] = 600.0,
) -> None:
    """Import a city 311 export as lifecycle events.

    CaseReported at creation, TaskDispatched to the agency with the due date as deadline (none
    when the export has no due date; never an accept-by), CaseClosed at the close time,
    CaseVoided for duplicates. Never invents a timestamp; prints what was imported and, by
    reason, what could not be mapped.
    """
    log.configure()
    cfg = config_module.load()
    result = read(fmt, path, tz, spec)
    if out is not None:
        written = write_jsonl(result, out)
        show(result.report, f"{written} events written to {out}")
        return
    sent = feed.send(cfg, result, f"importing {path.name}")
    show(result.report, f"{sent.events} events produced to {cfg.events_topic} ({sent.rate:,.0f} ev/s)")
    if wait:
        feed.wait_projected(cfg, sent, timeout)
        Console().print("the projections include every imported event")


def show(report: Report, headline: str) -> None:
    console = Console()
    console.print(
        f"[bold]{report.source}[/]: {report.rows_read} rows read, "
        f"{report.cases_imported} cases imported; {headline}"
    )
    data = report.as_dict()
    for section, title in (
        ("events_by_type", "events by type"),
        ("unmapped", "could not be mapped (rows, by reason)"),
        ("adjusted", "mapped by a documented rule"),
    ):
        table = Table(title=title, title_justify="left")
        table.add_column("what")
        table.add_column("count", justify="right")
        for key, count in data[section].items():
            table.add_row(key, str(count))
        if data[section]:
            console.print(table)
    if data["missing_columns"]:
        console.print(f"columns missing from the file: {json.dumps(data['missing_columns'])}")


def register(app: typer.Typer) -> None:
    app.command("import")(import_command)
