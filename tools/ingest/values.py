"""Reading single values out of an export row, counting every one that cannot be used."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from civicloop.tools.ingest.localtime import BadTimestamp, parse_naive, to_utc
from civicloop.tools.ingest.report import Report
from civicloop.tools.ingest.spec import CityMapping

Row = dict[str, str]


class Values:
    def __init__(self, mapping: CityMapping, tz: str, report: Report) -> None:
        self.mapping, self.zone, self.report = mapping, ZoneInfo(tz), report
        self.nulls = frozenset(v.lower() for v in mapping.null_values)
        self.null_re = re.compile(mapping.null_pattern) if mapping.null_pattern else None

    def text(self, row: Row, column: str | None) -> str | None:
        """The stripped value, or None when the column is absent or holds a null marker."""
        if column is None:
            return None
        value = (row.get(column) or "").strip()
        if value.lower() in self.nulls or (self.null_re and self.null_re.search(value)):
            return None
        return value

    def time(self, row: Row, column: str | None) -> datetime | None:
        """The UTC instant in `column`, or None (empty, or unparseable and counted)."""
        raw = self.text(row, column)
        if raw is None:
            return None
        try:
            naive = parse_naive(raw, self.mapping.date_formats)
        except BadTimestamp:
            self.report.unmapped[f"unparseable_date:{column}"] += 1
            return None
        moment, rule = to_utc(naive, self.zone)
        if rule:
            self.report.adjusted[f"{rule}_local_time:{column}"] += 1
        return moment

    def location(self, row: Row) -> dict[str, Any]:
        cols = self.mapping.columns
        lat, lon = self._coordinates(row)
        return {
            "lat": lat,
            "lon": lon,
            "address": self.text(row, cols.address),
            "grid_id": self.text(row, cols.grid),
            "district": self.text(row, cols.district),
        }

    def _coordinates(self, row: Row) -> tuple[float | None, float | None]:
        cols, count = self.mapping.columns, self.report.unmapped
        raw_lat, raw_lon = self.text(row, cols.lat), self.text(row, cols.lon)
        if raw_lat is None or raw_lon is None:
            count["missing_coordinates"] += 1
            return None, None
        try:
            lat, lon = float(raw_lat), float(raw_lon)
        except ValueError:
            count["unparseable_coordinates"] += 1
            return None, None
        if any(abs(lat - a) < 1e-9 and abs(lon - b) < 1e-9 for a, b in self.mapping.placeholder_coordinates):
            count["placeholder_coordinates"] += 1
            return None, None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            count["invalid_coordinates"] += 1
            return None, None
        return lat, lon
