"""What every command module shares: the consoles and loading the configuration."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from civicloop import config as config_module
from civicloop import log

if TYPE_CHECKING:
    from civicloop.projections.store.base import Query

console = Console()
err = Console(stderr=True)


def configured() -> config_module.Config:
    """Logging set up and the configuration loaded (a ValueError names a bad variable)."""
    log.configure()
    return config_module.load()


def read(compute: Callable[[Query, str], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """``compute(query, database)`` over a reader of the configured deployment's projections."""
    from civicloop.projections.backend import open_reader

    cfg = configured()
    reader = open_reader(cfg)
    try:
        return compute(reader.query, cfg.database)
    finally:
        reader.close()


class Dimension(StrEnum):
    """What metrics group by (``--by``)."""

    department = "department"
    category = "category"
    district = "district"
    grid = "grid"
    channel = "channel"
    priority = "priority"
    all = "all"


def parse_time(value: str | None) -> datetime | None:
    """ISO date or date-time; without an offset it is read as UTC."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO date or date-time (e.g. 2024-05-01 or 2024-05-01T08:00:00+08:00)"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
