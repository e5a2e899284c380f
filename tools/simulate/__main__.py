"""`python -m civicloop.tools.simulate`: write a simulated workload as JSON Lines, or time it."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import structlog
import typer

from civicloop.tools.simulate.engine import simulate
from civicloop.tools.simulate.jsonl import write_jsonl

log = structlog.get_logger()
app = typer.Typer(add_completion=False)


@app.command()
def main(
    days: Annotated[int, typer.Option(help="length of the simulated period")] = 21,
    cases_per_day: Annotated[float, typer.Option(help="mean reports per day")] = 400.0,
    seed: Annotated[int, typer.Option(help="same seed, same events (ids included)")] = 1,
    start: Annotated[str, typer.Option(help="UTC start, ISO date or time")] = "2024-05-01",
    out: Annotated[Path | None, typer.Option(help="JSON Lines file; omit to only count")] = None,
    limit: Annotated[int, typer.Option(help="stop after this many events (0 = all)")] = 0,
) -> None:
    begin = datetime.fromisoformat(start)
    begin = begin if begin.tzinfo else begin.replace(tzinfo=UTC)
    events = simulate(days, cases_per_day, seed, begin)
    if limit:
        events = (e for _, e in zip(range(limit), events, strict=False))
    clock = time.perf_counter()
    n = write_jsonl(events, out) if out else sum(1 for _ in events)
    took = time.perf_counter() - clock
    log.info(
        "simulated",
        events=n,
        seconds=round(took, 2),
        events_per_s=round(n / took),
        out=str(out) if out else None,
    )


if __name__ == "__main__":
    app()
