"""What an import did: counts an operator can reconcile against the source file."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from civicloop.schemas.event import Event


@dataclass
class Report:
    """Filled in while the events are consumed; complete once the stream is exhausted.

    `unmapped`: rows or fields that could not be mapped, by reason (a row counts once per
    reason). `disagreements`: rows whose status text disagrees with their times, by reason
    (the times decide, docs/DESIGN.md §6). `adjusted`: values mapped by a documented rule
    (DST) that an analyst may want to know about. `statuses`: the raw status values, for
    reconciling with the source.
    """

    source: str
    rows_read: int = 0
    cases_imported: int = 0
    events_by_type: Counter[str] = field(default_factory=Counter)
    unmapped: Counter[str] = field(default_factory=Counter)
    disagreements: Counter[str] = field(default_factory=Counter)
    adjusted: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    missing_columns: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "rows_read": self.rows_read,
            "cases_imported": self.cases_imported,
            "events_by_type": dict(self.events_by_type),
            "unmapped": dict(sorted(self.unmapped.items())),
            "disagreements": dict(sorted(self.disagreements.items())),
            "adjusted": dict(sorted(self.adjusted.items())),
            "statuses": dict(self.statuses),
            "missing_columns": self.missing_columns,
        }


@dataclass
class ImportResult:
    """A stream of events and the report that describes it (read the report after the stream)."""

    events: Iterator[Event]
    report: Report

    def __iter__(self) -> Iterator[Event]:
        return self.events
