"""Baltimore City 311 export (Open Baltimore "311 Customer Service Requests")."""

from __future__ import annotations

from pathlib import Path

from civicloop.tools.ingest.csvfile import read_csv
from civicloop.tools.ingest.report import ImportResult
from civicloop.tools.ingest.spec import CityMapping, Columns

MAPPING = CityMapping(
    importer="baltimore311",
    city="bal",
    columns=Columns(
        case_id="ServiceRequestNum",
        created="CreatedDate",
        status="SRStatus",
        category="SRType",
        closed="CloseDate",
        due="DueDate",
        status_date="StatusDate",
        agency="Agency",
        channel="MethodReceived",
        address="Address",
        lat="Latitude",
        lon="Longitude",
        district="CouncilDistrict",
        grid="Neighborhood",
    ),
    statuses={
        "closed": "closed",
        "closed (transferred)": "transferred",
        "closed (duplicate)": "duplicate",
        "open (duplicate)": "duplicate",
        "new (duplicate)": "duplicate",
        "open": "open",
        "new": "open",
        "pending": "open",
        "in progress": "open",
    },
    # "API" is the city's Open311 API, used by its app and partner apps; "Internal" and
    # "System" are raised by city staff or systems themselves (proactive work).
    channels={
        "phone": "hotline",
        "api": "app",
        "web": "web",
        "email": "email",
        "mail": "other",
        "internal": "internal",
        "system": "internal",
        "other": "other",
    },
    # The geocoder's fallback when an address did not resolve: not a place in the city.
    placeholder_coordinates=((39.0, -77.0),),
)


def read(path: str | Path, tz: str = "America/New_York") -> ImportResult:
    """Events from a Baltimore 311 CSV; naive local times are read in `tz`."""
    return read_csv(path, MAPPING, tz)
