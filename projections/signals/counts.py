"""Places of a case as the detectors and hotspots see them, in SQL both ClickHouse backends run.

Places: the district, or the grid id — and for a case without one, a lat/lon cell
``geo:<row>:<col>`` of ``GEO_CELL_DEG`` degrees. Which reports a window counts is
``arrival.py``'s (the order of the case topic decides), and a case counts once, under its
category and places as reported (no later event changes them).
"""

from __future__ import annotations

GEO_CELL_DEG = 0.0025  # ~280 m north-south; used where a case has coordinates but no grid id

GRID = (
    "if(grid_id != '', grid_id, if(isNull(lat) OR isNull(lon), '', concat('geo:', "
    "toString(toInt64(floor(assumeNotNull(lat) / %(geo)s))), ':', "
    "toString(toInt64(floor(assumeNotNull(lon) / %(geo)s))))))"
)
PLACE = {"district": "district", "grid": GRID}


def place_sql(level: str) -> str:
    """The SQL expression of a case's place at ``level`` (district or grid); needs ``%(geo)s``."""
    try:
        return PLACE[level]
    except KeyError:
        raise ValueError(f"unknown place level {level!r}: use district or grid") from None
