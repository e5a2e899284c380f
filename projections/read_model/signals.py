"""The signals as analysts read them (``civicloop signals``, the dashboard), from the signals table."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from civicloop.projections.store.base import Query
from civicloop.projections.tables.schema import SIGNALS

_EPOCH = "toDateTime('1970-01-02 00:00:00', 'UTC')"
_END = "toDateTime('2105-12-31 00:00:00', 'UTC')"
#: what a listed signal is made of, of its row
COLUMNS = (
    "occurred_at",
    "type",
    "level",
    "category",
    "place",
    "window_size",
    "window_start",
    "observed",
    "expected",
    "threshold",
    "p_value",
    "event_id",
    "related_id",
    "detail",
)


def between(
    query: Query,
    database: str,
    since: datetime | None = None,
    until: datetime | None = None,
    signal_type: str | None = None,
    detail: bool = False,
) -> list[dict[str, Any]]:
    """Signals that occurred in [since, until), in the order they occurred. ``detail`` adds
    the whole signal (its JSON form) under ``signal``."""
    rows = query(
        f"SELECT {', '.join(COLUMNS)} FROM {database}.{SIGNALS} FINAL "
        f"WHERE occurred_at >= {'%(since)s' if since else _EPOCH} "
        f"AND occurred_at < {'%(until)s' if until else _END}"
        f"{' AND type = %(type)s' if signal_type else ''} "
        "ORDER BY occurred_at, type, category, place, event_id",
        {"since": since, "until": until, "type": signal_type},
    )
    return [_listed(dict(zip(COLUMNS, row, strict=True)), detail) for row in rows]


def _listed(found: dict[str, Any], detail: bool) -> dict[str, Any]:
    p = found["p_value"]
    row = {
        "occurred_at": found["occurred_at"],
        "type": found["type"],
        "level": found["level"],
        "category": found["category"],
        "place": found["place"],
        "window": found["window_size"],
        "window_start": found["window_start"],
        "observed": int(found["observed"]),
        "expected": round(float(found["expected"]), 2),
        "threshold": int(found["threshold"]),
        "p_value": None if p is None else float(f"{p:.3g}"),
        "event_id": found["event_id"],
        "related_id": found["related_id"],
    }
    if detail:
        row["signal"] = json.loads(found["detail"])
    return row
