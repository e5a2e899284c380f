"""``civicloop simulate``: a reproducible city workload, straight to Kafka or to a file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from civicloop import config as config_module
from civicloop import log
from civicloop.tools import feed
from civicloop.tools.simulate.engine import simulate
from civicloop.tools.simulate.jsonl import write_jsonl


def simulate_command(
    days: Annotated[int, typer.Option(help="Length of the simulated period.")] = 14,
    cases_per_day: Annotated[float, typer.Option(help="Mean reports per day (the arrival rate).")] = 400.0,
    seed: Annotated[int, typer.Option(help="Same seed, same events, ids included.")] = 1,
    start: Annotated[str | None, typer.Option(help="UTC start, ISO date (default: DAYS ago).")] = None,
    out: Annotated[Path | None, typer.Option(help="Write JSON Lines (for `civicloop produce`).")] = None,
    wait: Annotated[bool, typer.Option(help="Return only when the projections include every event.")] = False,
) -> None:
    """Generate a realistic city workload, reproducible from a seed.

    Arrivals by hour and weekday, departments with their own handling times and deadlines,
    returns, extensions, escalations, rework, reopen and feedback.
    """
    log.configure()
    begin = _start(start, days)
    events = simulate(days, cases_per_day, seed, begin)
    if out is not None:
        written = write_jsonl(events, out)
        Console().print(f"{written} events written to {out}")
        return
    cfg = config_module.load()
    sent = feed.send(cfg, events, f"simulating {days} days from {begin:%Y-%m-%d}")
    Console().print(f"{sent.events} events produced to {cfg.events_topic} ({sent.rate:,.0f} ev/s)")
    if wait:
        feed.wait_projected(cfg, sent)


def _start(value: str | None, days: int) -> datetime:
    if value is None:
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return today.fromtimestamp(today.timestamp() - days * 86400, UTC)
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate_command)
