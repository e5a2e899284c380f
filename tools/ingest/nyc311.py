"""NYC "311 Service Requests from 2010 to Present" export, old and new column sets.

Its status field never says "duplicate", so no NYC row is voided: a resolution text that
mentions a duplicate decides nothing (docs/DESIGN.md §6). Resolution texts only refine the
closure reason of a closed row; older exports lack `Resolution Description`, and every closed
request then closes as `resolved`.
"""

from __future__ import annotations

from pathlib import Path

from civicloop.tools.ingest.csvfile import read_csv
from civicloop.tools.ingest.report import ImportResult
from civicloop.tools.ingest.spec import CityMapping, Columns

MAPPING = CityMapping(
    importer="nyc311",
    city="nyc",
    columns=Columns(
        case_id="Unique Key",
        created="Created Date",
        status="Status",
        category="Complaint Type",
        closed="Closed Date",
        due="Due Date",
        status_date="Resolution Action Updated Date",
        agency="Agency",
        channel="Open Data Channel Type",
        description="Descriptor",
        address="Incident Address",
        lat="Latitude",
        lon="Longitude",
        district="Borough",
        grid="Community Board",
        resolution="Resolution Description",
    ),
    statuses={
        "closed": "closed",
        "open": "open",
        "pending": "open",
        "assigned": "open",
        "started": "open",
        "in progress": "open",
        "email sent": "open",
        "draft": "open",
        "unspecified": "open",
    },
    channels={
        "phone": "hotline",
        "online": "web",
        "mobile": "app",
        "other": "other",
        "unknown": "other",
    },
    # "Unspecified", "0 Unspecified", "Unspecified QUEENS": the export's own "no value".
    null_values=frozenset({"", "n/a", "na"}),
    null_pattern=r"(?i)^(0 )?unspecified\b",
    resolution_rules=(
        (r"no evidence of|did not observe|could not find|no violation", "no_further_action"),
        (r"not within (its|the agency's) jurisdiction|referred to|forwarded to", "referred"),
    ),
)


def read(path: str | Path, tz: str = "America/New_York") -> ImportResult:
    """Events from an NYC 311 CSV; naive local times are read in `tz`."""
    return read_csv(path, MAPPING, tz)
