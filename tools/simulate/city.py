"""A made-up city on a lat/lon grid: districts split into grid cells (网格), with hotspots.

Its boundaries (``civicloop/demo_city.geojson``, the packaged example of a boundaries file)
are generated from this table once, by ``python -m civicloop.tools.simulate.city``; a test
checks the shipped file still matches. Points are drawn inside a cell and their district and
cell are then read from those boundaries, as for any report.
"""

from __future__ import annotations

import json
import random
import sys
from typing import Any

from civicloop import geography
from civicloop.tools.simulate.case import Weighted, between

# District code, name, south-west corner (lat, lon), rows x cols of cells, relative population.
# Two rows of districts that do not overlap, the river's strip between the southern two and
# the northern four (outside the service area).
DISTRICTS = (
    ("D01", "Old Town", (31.260, 121.400), (6, 6), 3.0),
    ("D02", "Riverside", (31.260, 121.460), (8, 6), 2.0),
    ("D03", "North Gate", (31.260, 121.520), (8, 8), 1.5),
    ("D04", "Harbour", (31.260, 121.600), (6, 10), 1.2),
    ("D05", "Hi-Tech Park", (31.140, 121.400), (10, 10), 1.0),
    ("D06", "Green Hills", (31.140, 121.500), (12, 12), 0.6),
)
CELL = 0.01  # degrees, roughly 1 km
#: share of a cell at each side a point is never drawn in: no point lands on an edge, even
#: after rounding to 6 decimals, so the cell it is drawn in is the cell it is found in
MARGIN = 0.0005
STREETS = (
    "Elm Road",
    "Station Street",
    "Canal Lane",
    "Market Street",
    "Temple Road",
    "Silk Avenue",
    "Harbour Road",
    "Garden Lane",
    "Bridge Street",
    "Mill Road",
)
_PICK = Weighted(DISTRICTS, [d[4] for d in DISTRICTS])


def district_share(code: str) -> float:
    """The share of all reports that come from district ``code``."""
    weights = {d[0]: d[4] for d in DISTRICTS}
    if code not in weights:
        raise ValueError(f"unknown simulated district {code!r}: one of {', '.join(weights)}")
    return weights[code] / sum(weights.values())


def sample_location(rng: random.Random, district: str | None = None) -> dict[str, Any]:
    """A Location record (in ``district`` if given); cells near a district's south-west corner
    are busier (hotspots)."""
    picked = next(d for d in DISTRICTS if d[0] == district) if district else _PICK.draw(rng)
    code, name, (lat0, lon0), (rows, cols), _ = picked
    # Squaring a uniform skews towards 0, so low-numbered cells see more reports.
    row = int(rng.random() ** 2 * rows)
    col = int(rng.random() ** 2 * cols)
    lat = round(lat0 + (row + _inside(rng)) * CELL, 6)
    lon = round(lon0 + (col + _inside(rng)) * CELL, 6)
    street = STREETS[(row * 7 + col) % len(STREETS)]
    place = geography.load().locate(lat, lon)
    return {
        "lat": lat,
        "lon": lon,
        "address": f"{between(rng, 1, 300)} {street}, {name}",
        "grid_id": place.grid if place else None,
        "district": place.district if place else None,
    }


def _inside(rng: random.Random) -> float:
    return MARGIN + rng.random() * (1 - 2 * MARGIN)


def boundaries() -> dict[str, Any]:
    """The city as a boundaries file (GeoJSON): each district, then each of its cells."""
    features = []
    for code, name, (lat0, lon0), (rows, cols), _ in DISTRICTS:
        features.append(_feature(lat0, lon0, rows, cols, level="district", district=code, name=name))
    for code, _, (lat0, lon0), (rows, cols), _ in DISTRICTS:
        for row in range(rows):
            for col in range(cols):
                south, west = lat0 + row * CELL, lon0 + col * CELL
                grid = f"{code}-{row:02d}{col:02d}"
                features.append(_feature(south, west, 1, 1, level="grid", grid=grid, district=code))
    return {"type": "FeatureCollection", "features": features}


def _feature(south: float, west: float, rows: int, cols: int, **properties: str) -> dict[str, Any]:
    north, east = round(south + rows * CELL, 6), round(west + cols * CELL, 6)
    south, west = round(south, 6), round(west, 6)
    # RFC 7946: [longitude, latitude], the exterior ring counter-clockwise, first point repeated
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {
        "type": "Feature",
        "properties": properties,
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def boundaries_text() -> str:
    """The packaged ``demo_city.geojson`` exactly: one feature a line."""
    features = ",\n".join(json.dumps(f, separators=(",", ":")) for f in boundaries()["features"])
    return '{"type":"FeatureCollection","features":[\n' + features + "\n]}\n"


if __name__ == "__main__":
    sys.stdout.write(boundaries_text())
