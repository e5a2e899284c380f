"""Reports per (category, place, window) from the case lifecycle, in SQL both ClickHouse
backends run (no toStartOfInterval on 18.16: the window index is integer arithmetic).

A case counts once, in the window of its ``reported_at``, under its category as the lifecycle
has it (``FINAL``: the latest version of the row). Voided duplicates count too: a surge of
duplicate reports is a surge of public concern. Places: the district, or the grid id — and
for a case without one, a lat/lon cell ``geo:<row>:<col>`` of ``GEO_CELL_DEG`` degrees.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from civicloop.projections.store.base import Query
from civicloop.projections.tables.schema import CASE_LIFECYCLE

GEO_CELL_DEG = 0.0025  # ~280 m north-south; used where a case has coordinates but no grid id

_GRID = (
    "if(grid_id != '', grid_id, if(isNull(lat) OR isNull(lon), '', concat('geo:', "
    "toString(toInt64(floor(assumeNotNull(lat) / %(geo)s))), ':', "
    "toString(toInt64(floor(assumeNotNull(lon) / %(geo)s))))))"
)
PLACE = {"district": "district", "grid": _GRID}


def place_sql(level: str) -> str:
    """The SQL expression of a case's place at ``level`` (district or grid); needs ``%(geo)s``."""
    try:
        return PLACE[level]
    except KeyError:
        raise ValueError(f"unknown place level {level!r}: use district or grid") from None


def counts(
    query: Query,
    database: str,
    level: str,
    size_s: int,
    offset_s: int,
    lo: datetime,
    hi: datetime,
    cell: tuple[str, str] | None = None,
) -> list[tuple[str, str, int, int]]:
    """(category, place, window index, reports) for reports in [lo, hi); one cell if given."""
    only = f" AND category = %(category)s AND {place_sql(level)} = %(place)s" if cell else ""
    rows = query(
        f"SELECT category, {place_sql(level)} AS place, "
        "intDiv(toInt64(toUInt32(reported_at)) + %(offset)s, %(size)s) AS bucket, count() AS n "
        f"FROM {database}.{CASE_LIFECYCLE} FINAL "
        f"WHERE reported_at >= %(lo)s AND reported_at < %(hi)s AND category != ''{only} "
        "GROUP BY category, place, bucket HAVING place != ''",
        {
            "offset": offset_s,
            "size": size_s,
            "lo": lo,
            "hi": hi,
            "geo": GEO_CELL_DEG,
            "category": cell[0] if cell else "",
            "place": cell[1] if cell else "",
        },
    )
    return [(str(c), str(p), int(b), int(n)) for c, p, b, n in rows]


def first_report(query: Query, database: str) -> datetime | None:
    """When the earliest projected case was reported: windows before it are unknown, not 0."""
    rows = query(f"SELECT count(), min(reported_at) FROM {database}.{CASE_LIFECYCLE}")
    return rows[0][1] if rows and rows[0][0] else None


def cases_in(
    query: Query,
    database: str,
    places: Sequence[tuple[str, str]],
    lo: datetime,
    hi: datetime,
    limit: int = 50,
) -> dict[tuple[str, str], list[tuple[str, datetime]]]:
    """(case_id, reported_at) of each (category, grid-level place) in ``places``, earliest
    first, at most ``limit`` each: one statement for all of them (a sweep may find hundreds
    of recurrences on one day, and each statement reads the whole lifecycle table)."""
    found: dict[tuple[str, str], list[tuple[str, datetime]]] = {place: [] for place in places}
    if not places:
        return found
    rows = query(
        f"SELECT category, {_GRID} AS place, case_id, reported_at FROM {database}.{CASE_LIFECYCLE} FINAL "
        # a key per pair, not a tuple IN: a one-element tuple list would read as one tuple
        f"WHERE concat(category, '\\0', {_GRID}) IN %(keys)s "
        "AND reported_at >= %(lo)s AND reported_at < %(hi)s "
        "ORDER BY category, place, reported_at, case_id LIMIT %(limit)s BY category, place",
        {
            "keys": sorted({f"{c}\0{p}" for c, p in places}),
            "lo": lo,
            "hi": hi,
            "geo": GEO_CELL_DEG,
            "limit": limit,
        },
    )
    for category, place, case_id, at in rows:
        if (category, place) in found:
            found[(category, place)].append((str(case_id), at))
    return found
