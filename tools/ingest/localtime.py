"""Timestamps from city exports: several spellings, naive local time, DST read by one rule.

Rule for local times that do not map to exactly one instant (counted, never dropped):
- ambiguous (the repeated hour when clocks fall back): the FIRST occurrence, i.e. still daylight
  time (`fold=0`). An export that lost the offset cannot tell; the earlier reading never makes
  a case look faster than it was by an hour it did not have.
- nonexistent (the skipped hour when clocks spring forward): read with the offset in force
  before the jump, which lands the same distance past the jump (02:30 → 03:30 EDT). That is
  what a system that added "1 day" to a local time meant (Baltimore due dates do this).
Two-digit years follow POSIX `%y`: 69–99 → 19xx, 00–68 → 20xx.
A date without a time is not a timestamp and is refused (we never invent a time of day).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

_US = re.compile(
    r"(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?"
    r"\s*([AaPp][Mm])?"
)


class BadTimestamp(ValueError):
    """The text is not a timestamp this importer can read."""


def parse_naive(text: str, formats: tuple[str, ...] = ()) -> datetime:
    """`text` as a datetime (naive if it had no offset); explicit `formats` win when given."""
    if formats:
        for fmt in formats:
            try:
                return datetime.strptime(text, fmt)
            except ValueError:
                continue
        raise BadTimestamp(f"{text!r} matches none of the formats {list(formats)}")
    match = _US.fullmatch(text)
    if match:
        return _us(match)
    if len(text) > 10 and text[4:5] == "-":  # ISO 8601 with a time part
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            pass
    raise BadTimestamp(f"{text!r} is not a date with a time of day")


def _us(m: re.Match[str]) -> datetime:
    month, day, year, hour, minute = (int(m[i]) for i in range(1, 6))
    second = int(m[6] or 0)
    micro = int((m[7] or "0").ljust(6, "0"))
    if len(m[3]) == 2:
        year += 2000 if year <= 68 else 1900
    if m[8]:
        if not 1 <= hour <= 12:
            raise BadTimestamp(f"hour {hour} with {m[8]} in {m[0]!r}")
        hour = hour % 12 + (12 if m[8].lower() == "pm" else 0)
    try:
        return datetime(year, month, day, hour, minute, second, micro)
    except ValueError as err:
        raise BadTimestamp(f"{m[0]!r}: {err}") from None


def to_utc(moment: datetime, zone: ZoneInfo) -> tuple[datetime, str | None]:
    """The UTC instant, and "ambiguous"/"nonexistent" when the DST rule above was needed."""
    if moment.tzinfo is not None:
        return moment.astimezone(UTC), None
    local = moment.replace(tzinfo=zone, fold=0)
    utc = local.astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None) != moment:
        return utc, "nonexistent"
    if moment.replace(tzinfo=zone, fold=1).utcoffset() != local.utcoffset():
        return utc, "ambiguous"
    return utc, None
