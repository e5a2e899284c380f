"""The signals as analysts read them (``civicloop signals``), from the signals table."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from civicloop.projections.store.base import Query
from civicloop.projections.tables.schema import SIGNALS

_EPOCH = "toDateTime('1970-01-02 00:00:00', 'UTC')"
_END = "toDateTime('2105-12-31 00:00:00', 'UTC')"


def signals(
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
        "SELECT occurred_at, type, level, category, place, window_size, window_start, observed, "
        f"expected, threshold, p_value, event_id, related_id, detail FROM {database}.{SIGNALS} FINAL "
        f"WHERE occurred_at >= {'%(since)s' if since else _EPOCH} "
        f"AND occurred_at < {'%(until)s' if until else _END}"
        f"{' AND type = %(type)s' if signal_type else ''} "
        "ORDER BY occurred_at, type, category, place, event_id",
        {"since": since, "until": until, "type": signal_type},
    )
    out = []
    for (
        occurred,
        kind,
        level,
        category,
        place,
        size,
        start,
        observed,
        expected,
        threshold,
        p,
        eid,
        rel,
        raw,
    ) in rows:
        row = {
            "occurred_at": occurred,
            "type": kind,
            "level": level,
            "category": category,
            "place": place,
            "window": size,
            "window_start": start,
            "observed": int(observed),
            "expected": round(float(expected), 2),
            "threshold": int(threshold),
            "p_value": None if p is None else float(f"{p:.3g}"),
            "event_id": eid,
            "related_id": rel,
        }
        if detail:
            row["signal"] = json.loads(raw)
        out.append(row)
    return out
