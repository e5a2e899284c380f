"""Tumbling windows aligned to the city's local time: window ``b`` covers
``[b * size - offset, (b + 1) * size - offset)`` in epoch seconds, ``offset`` being the city's UTC
offset, so a day window is a local day and the same weekday recurs every ``per_week`` windows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

WEEK_S = 7 * 86400


@dataclass(frozen=True, slots=True)
class Window:
    name: str  # "hour" | "day": the WindowSize symbol in the signal schemas
    seconds: int

    @property
    def per_week(self) -> int:
        return WEEK_S // self.seconds


WINDOWS: dict[str, Window] = {"hour": Window("hour", 3600), "day": Window("day", 86400)}


def window(name: str) -> Window:
    try:
        return WINDOWS[name]
    except KeyError:
        raise ValueError(f"unknown window {name!r}: use one of {', '.join(WINDOWS)}") from None


def bucket_of(moment: datetime, win: Window, utc_offset_s: int) -> int:
    """The window index ``moment`` falls in."""
    return (int(moment.timestamp()) + utc_offset_s) // win.seconds


def bucket_start(bucket: int, win: Window, utc_offset_s: int) -> datetime:
    return datetime.fromtimestamp(bucket * win.seconds - utc_offset_s, UTC)
