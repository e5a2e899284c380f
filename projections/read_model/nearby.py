"""Duplicate suggestions: the open cases of one category near a location, nearest first.

What the HTTP API offers at intake (``nearby(reader.query, database, lat, lon, category)``) and
``civicloop nearby`` prints: at most ``limit`` (5) cases within ``radius_m`` (250 m) that are
open at ``as_of`` (default now) — reported by then, and neither closed nor voided by then. A
bounding box on lat/lon narrows the scan before ``greatCircleDistance`` (ClickHouse 18.16 has
it: docs/SIGNALS.md), so the SQL runs on both backends.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from civicloop.projections.store.base import Query
from civicloop.projections.tables.schema import CASE_LIFECYCLE

RADIUS_M = 250.0
LIMIT = 5
#: metres per degree of latitude (the bounding box that narrows the scan)
M_PER_DEG_LAT = 111_320.0


def nearby(
    query: Query,
    database: str,
    lat: float,
    lon: float,
    category: str,
    radius_m: float = RADIUS_M,
    limit: int = LIMIT,
    as_of: datetime | None = None,
    exclude: str = "",
) -> list[dict[str, Any]]:
    """Open same-category cases within ``radius_m`` of (lat, lon), nearest first."""
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"lat={lat}, lon={lon}: latitude must be -90..90 and longitude -180..180")
    if radius_m <= 0 or limit < 1:
        raise ValueError(f"radius {radius_m} m and limit {limit} must be positive")
    dlat = radius_m / M_PER_DEG_LAT
    dlon = radius_m / (M_PER_DEG_LAT * max(math.cos(math.radians(lat)), 0.01))
    rows = query(
        "SELECT case_id, state, reported_at, district, grid_id, lat, lon, distance FROM ("
        "SELECT case_id, state, reported_at, district, grid_id, lat, lon, "
        "greatCircleDistance(assumeNotNull(lon), assumeNotNull(lat), %(lon)s, %(lat)s) AS distance "
        f"FROM {database}.{CASE_LIFECYCLE} FINAL "
        "WHERE category = %(category)s AND case_id != %(exclude)s AND reported_at <= %(as_of)s "
        "AND (isNull(closed_at) OR closed_at > %(as_of)s) AND (isNull(voided_at) OR voided_at > %(as_of)s) "
        "AND isNotNull(lat) AND isNotNull(lon) "
        "AND lat BETWEEN %(lat_lo)s AND %(lat_hi)s AND lon BETWEEN %(lon_lo)s AND %(lon_hi)s"
        ") WHERE distance <= %(radius)s ORDER BY distance, reported_at, case_id LIMIT %(limit)s",
        {
            "lat": float(lat),
            "lon": float(lon),
            "category": category,
            "exclude": exclude,
            "as_of": as_of or datetime.now(UTC),
            "radius": float(radius_m),
            "limit": int(limit),
            "lat_lo": lat - dlat,
            "lat_hi": lat + dlat,
            "lon_lo": lon - dlon,
            "lon_hi": lon + dlon,
        },
    )
    return [
        {
            "rank": n,
            "case_id": case_id,
            "distance_m": round(float(distance), 1),
            "state": state,
            "reported_at": reported_at,
            "district": district,
            "grid": grid,
            "lat": clat,
            "lon": clon,
        }
        for n, (case_id, state, reported_at, district, grid, clat, clon, distance) in enumerate(rows, 1)
    ]
