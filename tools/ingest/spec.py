"""How one city's export maps onto events: column names, value maps and known placeholders.

The Baltimore and NYC importers are two `CityMapping` values; the generic importer reads the
same structure from a TOML file (see `mapping.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# What a status means for the case (the export's last known state of the request).
STATUS_KINDS = ("open", "closed", "transferred", "duplicate")
# Closure reason for the closing kinds; duplicates are voided, never closed (see rows.py).
CLOSURE_REASON = {"closed": "resolved", "transferred": "referred"}


@dataclass(frozen=True, slots=True)
class Columns:
    """Source column names; None where the export has no such column."""

    case_id: str
    created: str
    status: str
    category: str
    closed: str | None = None
    due: str | None = None
    status_date: str | None = None  # when the status last changed: dates a duplicate's void
    agency: str | None = None
    channel: str | None = None
    description: str | None = None
    address: str | None = None
    lat: str | None = None
    lon: str | None = None
    district: str | None = None
    grid: str | None = None
    resolution: str | None = None

    @property
    def required(self) -> tuple[str, ...]:
        return (self.case_id, self.created, self.status, self.category)


@dataclass(frozen=True, slots=True)
class CityMapping:
    importer: str  # actor id and source name, e.g. "baltimore311"
    city: str  # case_id prefix, e.g. "bal" → "bal-18-00269879"
    columns: Columns
    statuses: dict[str, str]  # lower-cased status → one of STATUS_KINDS
    channels: dict[str, str]  # lower-cased channel value → Channel symbol; else "other"
    timezone: str = "America/New_York"
    date_formats: tuple[str, ...] = ()  # strptime formats; () = the built-in US/ISO reader
    placeholder_coordinates: tuple[tuple[float, float], ...] = ()
    null_values: frozenset[str] = frozenset({""})  # compared lower-cased, after strip()
    null_pattern: str | None = None  # regex: matching values are missing too
    # regex → the ClosureReason a matching Resolution text gives a closed row
    # ("no_further_action", "referred", ...); first match wins. Free text never decides
    # whether a row is closed or a duplicate (docs/DESIGN.md §6): the times and the status do.
    resolution_rules: tuple[tuple[str, str], ...] = field(default=())
