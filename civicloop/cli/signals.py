"""Signals for analysts and intake staff: ``civicloop signals``, ``hotspots`` and ``nearby``
(docs/SIGNALS.md). They read through :func:`~civicloop.cli.common.read`, like the metric commands."""

from __future__ import annotations

from typing import Annotated

import typer

from civicloop.cli.common import configured, parse_time, read
from civicloop.projections.read_model import hotspots, nearby
from civicloop.projections.read_model import signals as raised
from civicloop.tools.output import Format, emit

Fmt = Annotated[Format, typer.Option("--format", help="table, json (an array) or csv.")]


def register(app: typer.Typer) -> None:
    app.command("signals")(signals_command)
    app.command("hotspots")(hotspots_command)
    app.command("nearby")(nearby_command)


def signals_command(
    t_from: Annotated[
        str | None, typer.Option("--from", help="Occurred at or after (ISO; UTC if no offset).")
    ] = None,
    t_to: Annotated[str | None, typer.Option("--to", help="Occurred before (ISO; UTC if no offset).")] = None,
    kind: Annotated[
        str | None, typer.Option("--type", help="SurgeDetected, SurgeEnded or RecurringProblemDetected.")
    ] = None,
    fmt: Fmt = Format.table,
) -> None:
    """Surges, their end, and recurring problems, in the order they occurred."""
    rows = read(
        lambda q, db: raised.between(q, db, parse_time(t_from), parse_time(t_to), kind, fmt is Format.json)
    )
    emit(rows, fmt, "signals")


def hotspots_command(
    month: Annotated[str, typer.Option("--month", help="YYYY-MM (the city's local month).")],
    by: Annotated[str, typer.Option("--by", help="grid or district.")] = "grid",
    limit: Annotated[int, typer.Option(min=1, help="How many to rank.")] = 20,
    fmt: Fmt = Format.table,
) -> None:
    """The month's high-frequency problems (每月一题): cases by category and place, ranked,
    with the previous month and the recurring-problem signals raised."""
    if by not in ("grid", "district"):
        raise typer.BadParameter(f"--by {by!r}: use grid or district")
    try:
        hotspots.month_bounds(month)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    offset = int(configured().signal_utc_offset_h * 3600)
    rows = read(lambda q, db: hotspots.hotspots(q, db, month, by, limit, offset))
    emit(rows, fmt, f"hotspots {month} by {by}")


def nearby_command(
    lat: Annotated[float, typer.Option("--lat", help="Latitude of the new report (WGS84).")],
    lon: Annotated[float, typer.Option("--lon", help="Longitude of the new report (WGS84).")],
    category: Annotated[str, typer.Option("--category", help="Category code of the new report.")],
    radius: Annotated[float, typer.Option("--radius", help="Metres.")] = nearby.RADIUS_M,
    limit: Annotated[int, typer.Option(min=1, help="At most this many suggestions.")] = nearby.LIMIT,
    fmt: Fmt = Format.table,
) -> None:
    """Possible duplicates of a new report: open cases of its category nearby, nearest first."""
    rows = read(lambda q, db: nearby.nearby(q, db, lat, lon, category, radius, limit))
    emit(rows, fmt, f"nearby open {category} cases within {radius:g} m")
