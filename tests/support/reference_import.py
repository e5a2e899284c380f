"""What a city's export implies, per agency, computed straight from the CSV: the import oracle.

Written from the import rules of docs/DESIGN.md §6, not from the importer: it uses the csv
module, ``strptime`` with the formats each export is known to use, and the zone database —
nothing of ``civicloop`` — so a wrong rule in the importer, the fold or the metric SQL fails
the comparison instead of passing it.

- every row with a key and a readable creation time is one case, counted under its agency
  (duplicates included);
- closed = a close time at or after creation, whatever the status text says; a duplicate
  (by its status field only) is voided, never closed;
- on time = closed at or before the due time; no due time, not on time;
- p50 report→close: element ``min(floor(0.5·n), n − 1)`` of the sorted durations (whole
  seconds) of the closed rows, ClickHouse's ``quantileExact``.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

KEYS = ("reported", "closed", "closed_on_time", "p50_report_to_close_s")


@dataclass(frozen=True)
class Export:
    """The columns and spellings of one city's export."""

    key: str
    created: str
    closed: str
    due: str
    status: str
    agency: str
    duplicate_statuses: frozenset[str]
    formats: tuple[str, ...]
    zone: str = "America/New_York"


BALTIMORE = Export(
    key="ServiceRequestNum",
    created="CreatedDate",
    closed="CloseDate",
    due="DueDate",
    status="SRStatus",
    agency="Agency",
    duplicate_statuses=frozenset({"Closed (Duplicate)", "Open (Duplicate)", "New (Duplicate)"}),
    formats=("%m/%d/%Y %I:%M:%S %p",),
)
NYC = Export(
    key="Unique Key",
    created="Created Date",
    closed="Closed Date",
    due="Due Date",
    status="Status",
    agency="Agency",
    duplicate_statuses=frozenset(),  # the NYC status field never says duplicate
    formats=("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%y %H:%M"),
)


def epoch(text: str, export: Export) -> int | None:
    """Whole UTC seconds of a naive local time; None when empty or in no known format.
    ``replace(tzinfo=zone)`` takes fold=0: the first of a repeated hour, and for a skipped
    hour the offset in force before the jump — the rule docs/DESIGN.md §6 states."""
    text = text.strip()
    for fmt in export.formats if text else ():
        try:
            naive = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return int(naive.replace(tzinfo=ZoneInfo(export.zone)).astimezone(UTC).timestamp())
    return None


def by_agency(*sources: tuple[Path, Export]) -> dict[str, dict[str, Any]]:
    """Per agency over every row of ``sources`` (exports of disjoint cases): reported,
    closed, closed_on_time and p50_report_to_close_s."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(KEYS[:3], 0))
    durations: dict[str, list[int]] = defaultdict(list)
    for path, export in sources:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            for row in csv.DictReader(handle):
                created = epoch(row[export.created], export)
                if not row[export.key].strip() or created is None:
                    continue  # not a case the export can date: the importer reports it instead
                agency = row[export.agency].strip()
                out = counts[agency]
                out["reported"] += 1
                closed, due = epoch(row[export.closed], export), epoch(row[export.due], export)
                duplicate = row[export.status].strip() in export.duplicate_statuses
                if duplicate or closed is None or closed < created:
                    continue
                out["closed"] += 1
                out["closed_on_time"] += due is not None and closed <= due
                durations[agency].append(closed - created)
    return {
        agency: {**c, "p50_report_to_close_s": _median(durations[agency])} for agency, c in counts.items()
    }


def _median(values: list[int]) -> int | None:
    ordered = sorted(values)
    return ordered[min(len(ordered) // 2, len(ordered) - 1)] if ordered else None
