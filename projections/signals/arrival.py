"""Which reports a window counts, decided by the order of the case topic — never by the moment
a sweep runs, nor by how much of the topic is projected when it does (docs/SIGNALS.md).

- A report counts in window W (of some size: ``windows.py``) when, in its partition of the case
  topic, no report before it (a lower offset) was reported at or after ``W.end + lateness``.
  Otherwise it is *late* for W: W never counts it, whoever evaluates W and whenever.
- W is *closed* once every partition holds a projected report reported at or after
  ``W.end + lateness``. A partition is projected in offset order, so every report W counts is
  projected by then, and none projected later can count in W: what W counts, and so every
  signal it raises, is a function of the log alone.
- The data begin at the earliest of each partition's first report (its lowest offset), not at
  the earliest report projected so far, which a late report could still move.

Both need each report's place in the log: its ``CaseReported`` row of ``event_log`` (partition,
offset), joined to its case's category and place in ``case_lifecycle``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from civicloop.projections.signals.counts import GEO_CELL_DEG, GRID, place_sql
from civicloop.projections.signals.windows import Window, bucket_of
from civicloop.projections.store.base import Query
from civicloop.projections.tables.schema import CASE_LIFECYCLE, EVENT_LOG


@dataclass(frozen=True, slots=True)
class CaseLog:
    """The case topic whose reports the detectors count, and all of its partitions."""

    topic: str
    partitions: frozenset[int]


@dataclass(frozen=True, slots=True)
class Extent:
    first: datetime  # the earliest of each partition's first report: where the data begin
    watermark: datetime  # the least, over partitions, of the newest report projected from it


@dataclass(frozen=True, slots=True)
class Report:
    case_id: str
    category: str
    district: str
    grid: str  # the grid id, or the lat/lon cell of a case without one ('' without either)
    reported_at: datetime
    partition: int
    offset: int


def extent(query: Query, database: str, log: CaseLog) -> Extent | None:
    """Where the data begin and how far every partition is projected; None while a partition
    has no projected report (nothing is known of it, so no window is closed)."""
    rows = query(
        f"SELECT partition, argMin(occurred_at, offset), max(occurred_at) FROM {database}.{EVENT_LOG} "
        "WHERE topic = %(topic)s AND type = 'CaseReported' GROUP BY partition",
        {"topic": log.topic},
    )
    found = {int(p): (first, last) for p, first, last in rows}
    if not log.partitions or not log.partitions <= set(found):
        return None
    return Extent(min(found[p][0] for p in log.partitions), min(found[p][1] for p in log.partitions))


@dataclass(frozen=True)
class Span:
    """The windows ``[lo, hi)`` of ``win`` (shifted by the UTC offset ``offset_s``), each closed
    by the first report at or after its end + ``lateness_s``."""

    win: Window
    offset_s: int
    lateness_s: int
    lo: int
    hi: int


def counted(
    query: Query, database: str, log: CaseLog, span: Span, cell: tuple[str, str, str] | None = None
) -> list[tuple[Report, int]]:
    """(report, window index) of every report of the windows of ``span`` that counts in its
    window (``cell``: of that (level, category, place) only). Every window must be closed."""
    win, offset_s, lo, hi = span.win, span.offset_s, span.lo, span.hi
    ends = closes(query, database, log, span)
    found = []
    for report in reports(query, database, log, _start(lo, win, offset_s), _start(hi, win, offset_s), cell):
        b = bucket_of(report.reported_at, win, offset_s)
        close = ends.get(report.partition, {}).get(b)
        if close is not None and report.offset < close:
            found.append((report, b))
    return found


def closes(query: Query, database: str, log: CaseLog, span: Span) -> dict[int, dict[int, int]]:
    """Per partition, per window of ``span`` ([lo, hi)) closed in it: the offset of its first report
    reported at or after the window's end + lateness (reports before it count in the window).

    A report at ``t`` closes the windows ``b`` with ``(b + 1) * size - offset + lateness <= t``,
    i.e. those below ``reach = (t - lateness + offset) // size``; a window's close is the least
    offset over the reaches above it (reaches from ``hi`` on are one group: they close all)."""
    win, offset_s, lateness_s, lo, hi = span.win, span.offset_s, span.lateness_s, span.lo, span.hi
    since = datetime.fromtimestamp((lo + 1) * win.seconds - offset_s + lateness_s, UTC)
    rows = query(
        "SELECT partition, least(intDiv(toInt64(toUInt32(occurred_at)) - %(lateness)s + %(offset)s, "
        f"%(size)s), %(hi)s) AS reach, min(offset) FROM {database}.{EVENT_LOG} "
        "WHERE topic = %(topic)s AND type = 'CaseReported' AND occurred_at >= %(since)s "
        "GROUP BY partition, reach",
        {
            "topic": log.topic,
            "lateness": lateness_s,
            "offset": offset_s,
            "size": win.seconds,
            "hi": hi,
            "since": since,
        },
    )
    first_at: dict[int, dict[int, int]] = {}
    for partition, reach, offset in rows:
        first_at.setdefault(int(partition), {})[int(reach)] = int(offset)
    return {p: _suffix_min(reaches, lo, hi) for p, reaches in first_at.items()}


def _suffix_min(first_at: dict[int, int], lo: int, hi: int) -> dict[int, int]:
    found: dict[int, int] = {}
    least: int | None = None
    for b in range(hi - 1, lo - 1, -1):
        here = first_at.get(b + 1)
        if here is not None and (least is None or here < least):
            least = here
        if least is not None:
            found[b] = least
    return found


def reports(
    query: Query,
    database: str,
    log: CaseLog,
    lo: datetime,
    hi: datetime,
    cell: tuple[str, str, str] | None = None,
) -> list[Report]:
    """Every projected report of [lo, hi) with its place in the log (the first, should the
    same report have been logged twice), earliest first."""
    only = f" AND category = %(category)s AND {place_sql(cell[0])} = %(place)s" if cell else ""
    rows = query(
        "SELECT case_id, category, district, grid, reported_at, report_partition, report_offset FROM "
        f"(SELECT case_id, category, district, {GRID} AS grid, reported_at "
        f"FROM {database}.{CASE_LIFECYCLE} FINAL "
        f"WHERE reported_at >= %(lo)s AND reported_at < %(hi)s AND category != ''{only}) AS cases "
        "ANY INNER JOIN "
        "(SELECT case_id, argMin(partition, offset) AS report_partition, min(offset) AS report_offset "
        f"FROM {database}.{EVENT_LOG} WHERE topic = %(topic)s AND type = 'CaseReported' "
        "AND occurred_at >= %(lo)s AND occurred_at < %(hi)s GROUP BY case_id) AS logged USING case_id "
        "ORDER BY reported_at, case_id",
        {
            "lo": lo,
            "hi": hi,
            "topic": log.topic,
            "geo": GEO_CELL_DEG,
            "category": cell[1] if cell else "",
            "place": cell[2] if cell else "",
        },
    )
    return [Report(str(c), str(cat), str(d), str(g), at, int(p), int(o)) for c, cat, d, g, at, p, o in rows]


def places(report: Report, levels: Iterable[str]) -> list[tuple[str, str]]:
    """(level, place) of ``report`` at each of ``levels`` where it has one."""
    named = {"district": report.district, "grid": report.grid}
    return [(level, named[level]) for level in levels if named[level]]


def _start(bucket: int, win: Window, offset_s: int) -> datetime:
    return datetime.fromtimestamp(bucket * win.seconds - offset_s, UTC)
