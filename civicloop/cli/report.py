"""``civicloop report``: the monthly report as one HTML file that opens offline (and a PDF)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from civicloop.cli.common import configured, console
from civicloop.projections.backend import open_reader


def register(app: typer.Typer) -> None:
    app.command("report")(report)


def report(
    month: Annotated[str, typer.Option("--month", help="YYYY-MM (a UTC calendar month).")],
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write.")],
    pdf: Annotated[
        Path | None, typer.Option("--pdf", help="Also print it to this PDF (needs Chromium).")
    ] = None,
) -> None:
    """The month's headline figures against the previous month, ranked departments, top
    problems and charts: one self-contained HTML file (docs/DASHBOARD.md)."""
    from civicloop import geography
    from civicloop.tools.report import contents, render

    try:
        chosen = contents.Month.parse(month)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--month") from None
    cfg = configured()
    boundaries = geography.load(cfg.boundaries)
    reader = open_reader(cfg)
    try:
        found = contents.contents(
            reader.query,
            cfg.database,
            chosen,
            utc_offset_s=int(cfg.signal_utc_offset_h * 3600),
            boundaries=boundaries,
        )
    finally:
        reader.close()
    out.write_text(render.html(found), encoding="utf-8")
    console.print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB; opens offline)", highlight=False)
    if pdf is not None:
        render.pdf(out, pdf)
        console.print(f"wrote {pdf}", highlight=False)
