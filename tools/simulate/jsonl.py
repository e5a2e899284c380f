"""JSON Lines output: one event per line, the form `event_from_json` reads back."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from civicloop.schemas.event import Event
from civicloop.schemas.events import event_to_json


def write_jsonl(events: Iterable[Event], path: str | Path) -> int:
    """Write `events` to `path` (ISO-8601 UTC times with Z, bytes as base64); return the count."""
    n = 0
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        for event in events:
            out.write(json.dumps(event_to_json(event), ensure_ascii=False, separators=(",", ":")))
            out.write("\n")
            n += 1
    return n
