"""Where a report is: the district and grid cell of a point, from a boundaries file.

A boundaries file is a GeoJSON FeatureCollection (RFC 7946: longitude first, WGS84) of
Polygon or MultiPolygon features. A feature whose ``properties.level`` is ``"district"``
names its district in ``properties.district`` (the code events carry) and may give a display
``name``; one whose level is ``"grid"`` names its cell in ``properties.grid`` and the district
it lies in in ``properties.district``. The districts together are the service area; grid
cells are optional. ``CIVICLOOP_BOUNDARIES`` names a deployment's own file; without one the
packaged demo city (the simulator's, ``demo_city.geojson``) is used.

A point on an edge is covered by every polygon it touches; it goes to the first of them in
the file (so a point on the line between two districts always gets the same one). A point in
a polygon's hole is not in that polygon. Lookups go through an STRtree of the polygons'
envelopes (shapely), so a file of thousands of cells costs a few microseconds a point.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from civicloop import config

DEMO_CITY = "demo_city.geojson"
#: the ``properties.level`` values a feature may have
LEVELS = ("district", "grid")


@dataclass(frozen=True)
class Place:
    """A point's district code and grid cell (None where no cell covers it)."""

    district: str
    grid: str | None


@dataclass(frozen=True)
class Area:
    """One feature: its level, its code (district or grid id), its district, and its shape."""

    level: str
    code: str
    district: str
    name: str
    geometry: BaseGeometry


@dataclass(frozen=True)
class Outline:
    """A district as drawn: its rings as (lon, lat) points, exteriors and holes alike, and a
    point inside it to put its name on."""

    code: str
    name: str
    rings: list[list[tuple[float, float]]]
    label: tuple[float, float]


class Boundaries:
    """Districts and grid cells, indexed for point lookups."""

    def __init__(self, collection: Any, where: str = "boundaries") -> None:
        areas = _areas(collection, where)
        self.where = where
        self.districts = [a for a in areas if a.level == "district"]
        self.cells = [a for a in areas if a.level == "grid"]
        if not self.districts:
            raise ValueError(f"{where}: no feature has properties.level = 'district' (the service area)")
        _check_codes(self.districts, self.cells, where)
        # one index over districts then cells: a lookup is one query
        self._areas = self.districts + self.cells
        self._tree = shapely.STRtree([a.geometry for a in self._areas])

    def locate(self, lat: float, lon: float) -> Place | None:
        """The district and cell covering (lat, lon), or None outside the service area."""
        covering = [self._areas[i] for i in sorted(self._tree.query(shapely.points(lon, lat), "covered_by"))]
        if not covering or covering[0].level != "district":
            return None
        district = covering[0].code
        grid = next((a.code for a in covering if a.level == "grid" and a.district == district), None)
        return Place(district, grid)

    def fill(self, location: dict[str, Any]) -> dict[str, Any]:
        """``location`` (an event's Location) with district and grid filled in where it has
        coordinates and lacks them. What the caller gave is kept; a cell is added to a given
        district only if the boundaries put the point in that same district."""
        lat, lon = location.get("lat"), location.get("lon")
        district, grid = location.get("district") or None, location.get("grid_id") or None
        if lat is None or lon is None or (district and grid):
            return location
        place = self.locate(lat, lon)
        if place is None:
            return location
        if grid is None and (district is None or district == place.district):
            grid = place.grid
        return {**location, "district": district or place.district, "grid_id": grid}

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) of the service area, in degrees."""
        west, south, east, north = shapely.total_bounds([a.geometry for a in self.districts])
        return float(west), float(south), float(east), float(north)

    def outlines(self) -> list[Outline]:
        """Each district's outline, to draw it."""
        return [
            Outline(a.code, a.name, _rings(a.geometry), _label(a.geometry.representative_point()))
            for a in self.districts
        ]


def load(path: Path | None = None) -> Boundaries:
    """The boundaries in ``path``, or the packaged demo city when ``path`` is None; a
    ValueError names the file and what is wrong with it."""
    return _load(str(path) if path else None)


@functools.cache
def _load(path: str | None) -> Boundaries:
    where = path or f"the packaged {DEMO_CITY}"
    try:
        text = (
            Path(path).read_text(encoding="utf-8")
            if path
            else resources.files("civicloop").joinpath(DEMO_CITY).read_text(encoding="utf-8")
        )
        collection = json.loads(text)
    except OSError as exc:
        raise ValueError(f"{where}: cannot read the boundaries file ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{where}: not a GeoJSON file ({exc})") from None
    return Boundaries(collection, where)


def configured() -> Boundaries:
    """The boundaries ``CIVICLOOP_BOUNDARIES`` names (the packaged demo city by default)."""
    return load(config.boundaries_file())


def _areas(collection: Any, where: str) -> list[Area]:
    if not isinstance(collection, dict) or collection.get("type") != "FeatureCollection":
        raise ValueError(f"{where}: expected a GeoJSON FeatureCollection")
    features = collection.get("features")
    if not isinstance(features, list):
        raise ValueError(f"{where}: 'features' must be a list")
    return [_area(feature, f"{where}: feature {n}") for n, feature in enumerate(features)]


def _area(feature: Any, where: str) -> Area:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise ValueError(f"{where} is not a GeoJSON Feature")
    props = feature.get("properties") or {}
    level = props.get("level")
    if level not in LEVELS:
        raise ValueError(f"{where}: properties.level must be 'district' or 'grid', got {level!r}")
    code = props.get(level)
    district = props.get("district")
    for name, value in ((level, code), ("district", district)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{where}: properties.{name} must be a non-empty string, got {value!r}")
    geometry = _geometry(feature.get("geometry"), where)
    return Area(level, str(code), str(district), str(props.get("name") or code), geometry)


def _geometry(raw: Any, where: str) -> BaseGeometry:
    if not isinstance(raw, dict) or raw.get("type") not in ("Polygon", "MultiPolygon"):
        kind = raw.get("type") if isinstance(raw, dict) else raw
        raise ValueError(f"{where}: the geometry must be a Polygon or MultiPolygon, got {kind!r}")
    try:
        geometry = shape(raw)
    except (ValueError, TypeError, IndexError, AttributeError, shapely.errors.ShapelyError) as exc:
        raise ValueError(f"{where}: unreadable coordinates ({exc})") from None
    if geometry.is_empty or not geometry.is_valid:
        raise ValueError(f"{where}: invalid polygon ({shapely.is_valid_reason(geometry)})")
    west, south, east, north = geometry.bounds
    if not (-180 <= west and east <= 180 and -90 <= south and north <= 90):
        raise ValueError(f"{where}: coordinates must be [longitude, latitude] in WGS84 degrees")
    return geometry


def _check_codes(districts: list[Area], cells: list[Area], where: str) -> None:
    codes = [a.code for a in districts]
    repeated = sorted({c for c in codes if codes.count(c) > 1})
    if repeated:
        raise ValueError(f"{where}: district {repeated[0]!r} appears more than once (use a MultiPolygon)")
    known = set(codes)
    stray = next((c for c in cells if c.district not in known), None)
    if stray is not None:
        raise ValueError(
            f"{where}: grid cell {stray.code!r} names district {stray.district!r}, not in the file"
        )


def _label(point: BaseGeometry) -> tuple[float, float]:
    return float(point.x), float(point.y)


def _rings(geometry: BaseGeometry) -> list[list[tuple[float, float]]]:
    polygons = getattr(geometry, "geoms", [geometry])
    return [
        [(float(x), float(y)) for x, y in ring.coords]
        for polygon in polygons
        for ring in (polygon.exterior, *polygon.interiors)
    ]
