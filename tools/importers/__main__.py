"""`python -m civicloop.tools.importers KIND FILE`: a city export to JSON Lines, plus its report."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from civicloop.tools.importers import baltimore311, mapping, nyc311
from civicloop.tools.importers.report import ImportResult, Report
from civicloop.tools.simulate.jsonl import write_jsonl

app = typer.Typer(add_completion=False)


class Kind(StrEnum):
    baltimore311 = "baltimore311"
    nyc311 = "nyc311"
    mapping = "mapping"


@app.command()
def main(
    kind: Kind,
    path: Path,
    out: Annotated[Path, typer.Option(help="JSON Lines file to write")] = Path("events.jsonl"),
    tz: Annotated[str | None, typer.Option(help="zone of naive times (default: the city's)")] = None,
    spec: Annotated[Path | None, typer.Option("--mapping", help="TOML mapping (kind=mapping)")] = None,
) -> None:
    if kind is Kind.mapping:
        if spec is None:
            raise typer.BadParameter("kind 'mapping' needs --mapping city.toml")
        result: ImportResult = mapping.read(path, spec, tz)
    else:
        module = baltimore311 if kind is Kind.baltimore311 else nyc311
        result = module.read(path, tz) if tz else module.read(path)
    n = write_jsonl(result, out)
    _show(result.report, n, out)


def _show(report: Report, n: int, out: Path) -> None:
    table = Table(
        title=f"{report.source}: {report.rows_read} rows, {report.cases_imported} cases, {n} events → {out}"
    )
    table.add_column("section")
    table.add_column("counts")
    for name in ("events_by_type", "unmapped", "adjusted", "statuses"):
        table.add_row(name, json.dumps(report.as_dict()[name], ensure_ascii=False, indent=1))
    Console().print(table)


if __name__ == "__main__":
    app()
