"""Boundaries files for tests: the demo city, and a test district around the Baltimore
coordinates the API tests report from (so a deployment's own file is what they run on)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from civicloop.tools.simulate.city import boundaries

#: the test district: (west, south, east, north) in degrees, split into 3 x 3 cells
BALTIMORE = (-76.75, 39.15, -76.45, 39.45)


def rectangle(west: float, south: float, east: float, north: float, **properties: str) -> dict[str, Any]:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {
        "type": "Feature",
        "properties": properties,
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def baltimore() -> list[dict[str, Any]]:
    """District BAL and its cells BAL-RC (row R from the south, column C from the west)."""
    west, south, east, north = BALTIMORE
    dx, dy = (east - west) / 3, (north - south) / 3
    cells = [
        rectangle(
            west + c * dx, south + r * dy, west + (c + 1) * dx, south + (r + 1) * dy,
            level="grid", grid=f"BAL-{r}{c}", district="BAL",
        )
        for r in range(3)
        for c in range(3)
    ]  # fmt: skip
    return [rectangle(*BALTIMORE, level="district", district="BAL", name="Baltimore (test)"), *cells]


def write_test_city(path: Path) -> Path:
    """The demo city and the Baltimore test district in one boundaries file at ``path``."""
    city = boundaries()
    city["features"] += baltimore()
    path.write_text(json.dumps(city), encoding="utf-8")
    return path
