"""Event time at the precision of the projections: whole UTC seconds since the epoch.

The tables are second-precision ``DateTime('UTC')``, so the fold floors every time on entry
and every comparison the metrics make (closed by the deadline, responded by accept-by) sees
the values the tables hold.
"""

from __future__ import annotations

from datetime import UTC, datetime


def seconds(moment: datetime) -> int:
    """Whole seconds since the epoch, floored."""
    return int(moment.timestamp() // 1)


def optional_seconds(moment: datetime | None) -> int | None:
    """``seconds`` of a time that may be absent (a deadline never set)."""
    return None if moment is None else seconds(moment)


def moment(at: int | None) -> datetime | None:
    """The UTC datetime of whole seconds ``at`` (None stays None): how rows store them."""
    return None if at is None else datetime.fromtimestamp(at, UTC)
