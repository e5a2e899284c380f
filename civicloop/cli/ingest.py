"""``civicloop import FORMAT FILE``: a city's 311 export as lifecycle events, on Kafka or in a file."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from civicloop import config as config_module
from civicloop import log
from civicloop.tools import feed
from civicloop.tools.ingest import baltimore311, mapping, nyc311
from civicloop.tools.ingest.csvfile import check_file, read_csv
from civicloop.tools.ingest.report import Report
from civicloop.tools.ingest.spec import CityMapping
from civicloop.tools.output import plain
from civicloop.tools.simulate.jsonl import write_jsonl


class Format(StrEnum):
    baltimore311 = "baltimore311"
    nyc311 = "nyc311"
    mapping = "mapping"


def city_mapping(fmt: Format, spec: Path | None) -> CityMapping:
    if fmt is Format.mapping:
        if spec is None:
            raise typer.BadParameter("format 'mapping' needs --mapping city.toml")
        return mapping.load_mapping(spec)
    return baltimore311.MAPPING if fmt is Format.baltimore311 else nyc311.MAPPING


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
    """Import a city 311 export as lifecycle events (docs/DESIGN.md §6).

    Every row is a case under its agency (duplicates included); CaseReported at creation,
    TaskDispatched to the agency with the due date as deadline (none when the export has no
    due date; never an accept-by), CaseClosed at the close time whatever the status text says,
    CaseVoided for rows whose status says duplicate. Never invents a timestamp; prints what was
    imported and, by reason, what could not be mapped and where status and times disagree.
    The whole file is checked before anything is produced; a malformed one is refused with its
    line. Re-running an import is harmless: event ids derive from the rows.
    """
    log.configure()
    cfg = config_module.load()
    city = city_mapping(fmt, spec)
    check_file(path, city)  # a malformed file is refused here, before anything is produced
    result = read_csv(path, city, tz)
    if out is not None:
        written = write_jsonl(result, out)
        show(result.report, f"{written} events written to {out}")
        return
    try:
        sent = feed.send(cfg, result, f"importing {path.name}")
    except feed.SendStopped as exc:
        raise RuntimeError(
            f"{path}: import stopped after row {result.report.rows_read}: {exc}. Run the same "
            "import again to complete it: event ids derive from the rows, so nothing is counted twice"
        ) from None
    show(result.report, f"{sent.events} events produced to {cfg.events_topic} ({sent.rate:,.0f} ev/s)")
    if wait:
        feed.wait_projected(cfg, sent, timeout)
        Console().print("the projections include every imported event")


def show(report: Report, headline: str) -> None:
    console = Console()
    console.print(
        f"[bold]{escape(report.source)}[/]: {report.rows_read} rows read, "
        f"{report.cases_imported} cases imported; {headline}"
    )
    data = report.as_dict()
    for section, title in (
        ("events_by_type", "events by type"),
        ("unmapped", "could not be mapped (rows, by reason)"),
        ("disagreements", "status text disagrees with the times (rows, by reason; the times decide)"),
        ("adjusted", "mapped by a documented rule"),
    ):
        table = Table(title=title, title_justify="left")
        table.add_column("what")
        table.add_column("count", justify="right")
        for key, count in data[section].items():
            table.add_row(plain(key), str(count))
        if data[section]:
            console.print(table)
    if data["missing_columns"]:
        console.print(f"columns missing from the file: {json.dumps(data['missing_columns'])}")


def register(app: typer.Typer) -> None:
    app.command("import")(import_command)
