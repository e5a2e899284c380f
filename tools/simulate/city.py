"""A made-up city on a lat/lon grid: districts split into grid cells (网格), with hotspots."""

from __future__ import annotations

import random
from typing import Any

from civicloop.tools.simulate.case import Weighted, between

# District code, name, south-west corner (lat, lon), rows x cols of cells, relative population.
DISTRICTS = (
    ("D01", "Old Town", (31.200, 121.400), (6, 6), 3.0),
    ("D02", "Riverside", (31.200, 121.460), (8, 6), 2.0),
    ("D03", "North Gate", (31.260, 121.400), (8, 8), 1.5),
    ("D04", "Harbour", (31.260, 121.480), (6, 10), 1.2),
    ("D05", "Hi-Tech Park", (31.140, 121.400), (10, 10), 1.0),
    ("D06", "Green Hills", (31.140, 121.500), (12, 12), 0.6),
)
CELL = 0.01  # degrees, roughly 1 km
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
    lat = lat0 + (row + rng.random()) * CELL
    lon = lon0 + (col + rng.random()) * CELL
    street = STREETS[(row * 7 + col) % len(STREETS)]
    return {
        "lat": round(lat, 6),
        "lon": round(lon, 6),
        "address": f"{between(rng, 1, 300)} {street}, {name}",
        "grid_id": f"{code}-{row:02d}{col:02d}",
        "district": code,
    }
