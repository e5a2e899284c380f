"""Any city's export, described by a TOML mapping file instead of code.

importer = "chicago311"          # actor id; events' source is "importer/<importer>"
city = "chi"                     # case_id prefix
timezone = "America/Chicago"     # naive times are local here (read() can override)
date_formats = ["%m/%d/%Y %I:%M:%S %p"]   # optional; default reads US and ISO forms
placeholder_coordinates = [[0.0, 0.0]]    # optional
null_values = ["", "N/A"]        # optional; null_pattern = "regex" too
resolution_rules = [["referred to", "referred"]]   # optional: [regex, closure reason]

[columns]                        # case_id, created, status, category are required
case_id = "SR_NUMBER"
created = "CREATED_DATE"
...                              # closed, due, status_date, agency, channel, description,
                                 # address, lat, lon, district, grid, resolution
[statuses]                       # lower-cased status → open | closed | transferred | duplicate
completed = "closed"
[channels]                       # lower-cased value → civicloop Channel symbol
"phone call" = "hotline"
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from civicloop.schemas.registry import reader_schema
from civicloop.tools.ingest.csvfile import read_csv
from civicloop.tools.ingest.report import ImportResult
from civicloop.tools.ingest.spec import STATUS_KINDS, CityMapping, Columns


class MappingError(ValueError):
    """The mapping file is incomplete or names something civicloop does not know."""


def load_mapping(path: str | Path) -> CityMapping:
    try:
        with open(path, "rb") as handle:
            raw: dict[str, Any] = tomllib.load(handle)
    except OSError as exc:
        raise MappingError(f"{path}: cannot read the mapping file ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{path}: not valid TOML ({exc})") from None
    try:
        columns = Columns(**raw.pop("columns"))
        mapping = CityMapping(
            columns=columns,
            statuses={k.lower(): v for k, v in raw.pop("statuses", {}).items()},
            channels={k.lower(): v for k, v in raw.pop("channels", {}).items()},
            date_formats=tuple(raw.pop("date_formats", ())),
            placeholder_coordinates=tuple(tuple(p) for p in raw.pop("placeholder_coordinates", ())),
            null_values=frozenset(raw.pop("null_values", [""])),
            resolution_rules=tuple(tuple(r) for r in raw.pop("resolution_rules", ())),
            **raw,
        )
    except (KeyError, TypeError) as err:
        raise MappingError(f"{path}: {err}; see civicloop.tools.ingest.mapping for the format") from None
    check_mapping(mapping, str(path))
    return mapping


def check_mapping(mapping: CityMapping, where: str = "mapping") -> None:
    """Raise MappingError if the mapping names a status kind or enum symbol that does not exist."""
    channels, closures = _symbols("CaseReported", "channel"), _symbols("CaseClosed", "reason")
    problems = {
        "statuses": {s: k for s, k in mapping.statuses.items() if k not in STATUS_KINDS},
        "channels": {c: v for c, v in mapping.channels.items() if v not in channels},
        "resolution_rules": [r for r in mapping.resolution_rules if r[1] not in closures],
    }
    for name, bad in problems.items():
        if bad:
            allowed = {"statuses": STATUS_KINDS, "channels": channels}.get(name, closures)
            hint = (
                "; a resolution text never makes a duplicate (docs/DESIGN.md §6): map the "
                'status that says so in [statuses] to "duplicate"'
                if name == "resolution_rules" and any(r[1] == "duplicate" for r in bad)
                else ""
            )
            raise MappingError(f"{where}: {name} {bad}: must map to one of {allowed}{hint}")


def _symbols(event_type: str, field: str) -> tuple[str, ...]:
    """Enum symbols from the Avro contract, so the mapping can never drift from it."""
    for f in reader_schema(event_type)["fields"]:
        if f["name"] == field:
            return tuple(f["type"]["symbols"])
    raise KeyError(field)


def read(path: str | Path, mapping: str | Path | CityMapping, tz: str | None = None) -> ImportResult:
    """Events from any CSV export described by `mapping` (a TOML file or a CityMapping)."""
    spec = mapping if isinstance(mapping, CityMapping) else load_mapping(mapping)
    return read_csv(path, spec, tz)
