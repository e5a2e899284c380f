"""``civicloop bench signals``: how well the signals work, measured rather than asserted.

1. Surges: a simulated seasonal city for ``days`` with injected one-day surges of 2x, 3x and 5x
   in random (category, district) cells at local midnights (ground truth: cell, start, length,
   multiplier). Its reports go through the real fold and rows into chDB; the detectors sweep it
   as the worker does. Reported per multiplier and window: sensitivity (the surge raised a
   SurgeDetected for its cell within its span), median time to detection (surge start to the
   end of the first alarming window), and false alarms per cell-year (district cells, outside
   every injected span).
2. Duplicate suggestions on the real Baltimore sample: for each row the city marked as a
   duplicate, whether an open case of its category within 250 m existed when it was reported
   (an independent haversine over the imported cases) and whether ``nearby`` suggested the
   earliest such case — the likely original — in its top 5 (recall@5, mean rank).
"""

from __future__ import annotations

import math
import random
import statistics
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from civicloop.projections.backend import open_store
from civicloop.projections.fold.lifecycle import fold
from civicloop.projections.read_model.nearby import RADIUS_M, nearby
from civicloop.projections.signals import evaluate
from civicloop.projections.signals.arrival import CaseLog
from civicloop.projections.store.base import Store
from civicloop.projections.tables import event_log
from civicloop.projections.tables.rows import case_row
from civicloop.tools.simulate import SimConfig, simulate
from civicloop.tools.simulate.city import DISTRICTS
from civicloop.tools.simulate.config import CATEGORIES, Surge

MULTIPLIERS = (2.0, 3.0, 5.0)
TOPIC = "bench.case-events"
EARTH_M = 6372797.560856  # greatCircleDistance's sphere, so both computations measure alike


def injected(seed: int, start: datetime, days: int, per_size: int, offset_h: int) -> list[Surge]:
    """``per_size`` one-day surges of each multiplier in distinct random cells, after 5 weeks."""
    rng = random.Random(f"bench-signals:{seed}")
    cells = [(c.code, d[0]) for c in CATEGORIES for d in DISTRICTS]
    rng.shuffle(cells)
    local_midnight = start.replace(hour=0, minute=0, second=0) - timedelta(hours=offset_h)
    surges = []
    for n, multiplier in enumerate(m for m in MULTIPLIERS for _ in range(per_size)):
        category, district = cells[n % len(cells)]
        day = local_midnight + timedelta(days=rng.randrange(35, days - 1))
        surges.append(Surge(category, district, int(day.timestamp()), 24, multiplier))
    return surges


def project_reports(store: Store, db: str, events: Any) -> int:
    """Case rows of every report, through the real fold and row builder, and their event-log
    rows as read in order from one partition of ``TOPIC`` (reports and their place in the log
    are all the detectors read)."""
    store.lay_out(db)
    cases: list[dict[str, Any]] = []
    logged: list[dict[str, Any]] = []
    n = 0
    for event in events:
        if event.type != "CaseReported":
            continue
        cases.append(case_row(fold(None, event)))  # type: ignore[arg-type]
        logged.append(event_log.row(event, TOPIC, 0, n, b""))
        n += 1
        if len(cases) == 20_000:
            store.insert(f"{db}.case_lifecycle", cases)
            store.insert(f"{db}.event_log", logged)
            cases, logged = [], []
    store.insert(f"{db}.case_lifecycle", cases)
    store.insert(f"{db}.event_log", logged)
    return n


def surges(
    days: int, cases_per_day: float, per_size: int, seed: int, windows: tuple[str, ...]
) -> dict[str, Any]:
    offset_h = 8
    start = datetime(2025, 1, 6, tzinfo=UTC)  # a Monday
    truth = injected(seed, start, days, per_size, offset_h)
    events = simulate(days, cases_per_day, seed, start, SimConfig(surges=tuple(truth)))
    settings = evaluate.SignalSettings(windows=windows, utc_offset_s=offset_h * 3600, lateness_s=0)
    with tempfile.TemporaryDirectory(prefix="civicloop-bench-signals-") as tmp:
        store = open_store(f"chdb://{tmp}/chdb")
        try:
            reports = project_reports(store, "bench", events)
            began = time.perf_counter()
            raised = [
                s
                for step in evaluate.sweep(store.query, "bench", settings, CaseLog(TOPIC, frozenset({0})))
                for s in step.signals
            ]
            sweep_s = time.perf_counter() - began
        finally:
            store.close()
    detected = [s for s in raised if s.type == "SurgeDetected" and s["level"] == "district"]
    result: dict[str, Any] = {
        "days": days,
        "cases_per_day": cases_per_day,
        "seed": seed,
        "reports": reports,
        "surges_injected": len(truth),
        "sweep_seconds": round(sweep_s, 1),
        "alpha": settings.surge.alpha,
        "min_count": settings.surge.min_count,
        "by_window": {},
    }
    cells = len(CATEGORIES) * len(DISTRICTS)
    for window in windows:
        mine = [s for s in detected if s["window"] == window]
        rows: list[dict[str, Any]] = []
        matched: set[str] = set()
        for multiplier in MULTIPLIERS:
            delays = []
            for surge in (x for x in truth if x.multiplier == multiplier):
                lo, hi = surge.start, surge.start + int(surge.hours * 3600)
                hits = [
                    s
                    for s in mine
                    if (s["category"], s["place"]) == (surge.category, surge.district)
                    and lo <= s["window_start"].timestamp() < hi
                ]
                if hits:
                    first = min(hits, key=lambda s: s["window_end"])
                    delays.append((first["window_end"].timestamp() - lo) / 3600)
                    matched.update(h.event_id for h in hits)
            total = sum(1 for x in truth if x.multiplier == multiplier)
            rows.append(
                {
                    "multiplier": multiplier,
                    "surges": total,
                    "detected": len(delays),
                    "sensitivity": round(len(delays) / total, 3) if total else None,
                    "median_hours_to_detection": round(statistics.median(delays), 1) if delays else None,
                }
            )
        false = [s for s in mine if s.event_id not in matched]
        result["by_window"][window] = {
            "by_multiplier": rows,
            "false_alarms": len(false),
            "false_alarms_per_cell_year": round(len(false) / (cells * days / 365), 4),
        }
    return result


def _haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2, dp, dl = map(math.radians, (lat1, lat2, lat2 - lat1, lon2 - lon1))
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_M * math.asin(math.sqrt(a))


def duplicates(csv_path: Path) -> dict[str, Any]:
    from civicloop.tools.ingest import baltimore311

    by_case: dict[str, list[Any]] = defaultdict(list)
    for event in baltimore311.read(csv_path):
        by_case[event.case_id].append(event)
    rows = []
    for events in by_case.values():
        state = None
        for event in sorted(events, key=lambda e: e.occurred_at):
            state = fold(state, event)
        if state is not None:
            rows.append(case_row(state))
    with tempfile.TemporaryDirectory(prefix="civicloop-bench-dups-") as tmp:
        store = open_store(f"chdb://{tmp}/chdb")
        try:
            store.lay_out("bench")
            store.insert("bench.case_lifecycle", rows)
            return _duplicate_recall(store, rows, _duplicate_numbers(csv_path))
        finally:
            store.close()


def _open_at(row: dict[str, Any], t: datetime) -> bool:
    return (
        row["reported_at"] <= t
        and not (row["closed_at"] and row["closed_at"] <= t)
        and not (row["voided_at"] and row["voided_at"] <= t)
    )


def _duplicate_numbers(csv_path: Path) -> set[str]:
    """Request numbers the city itself marked as duplicates (its SRStatus says so)."""
    import csv

    with csv_path.open(newline="", encoding="utf-8-sig") as f:
        return {r["ServiceRequestNum"] for r in csv.DictReader(f) if "duplicate" in r["SRStatus"].lower()}


def _duplicate_recall(store: Store, rows: list[dict[str, Any]], numbers: set[str]) -> dict[str, Any]:
    # The importer voids a duplicate as `invalid` (the export names no original): match by number.
    dups = [r for r in rows if r["case_id"].removeprefix("bal-") in numbers]
    located = [r for r in dups if r["lat"] is not None and r["lon"] is not None]
    existed, found, ranks = 0, 0, []
    for dup in located:
        t = dup["reported_at"]
        candidates = [
            r
            for r in rows
            if r["case_id"] != dup["case_id"]
            and r["category"] == dup["category"]
            and r["lat"] is not None
            and _open_at(r, t)
            and _haversine(dup["lat"], dup["lon"], r["lat"], r["lon"]) <= RADIUS_M
        ]
        if not candidates:
            continue
        existed += 1
        original = min(candidates, key=lambda r: (r["reported_at"], r["case_id"]))["case_id"]
        suggested = [
            s["case_id"]
            for s in nearby(
                store.query, "bench", dup["lat"], dup["lon"], dup["category"], as_of=t, exclude=dup["case_id"]
            )
        ]
        if original in suggested:
            found += 1
            ranks.append(suggested.index(original) + 1)
    return {
        "rows": len(rows),
        "duplicates": len(dups),
        "duplicates_with_coordinates": len(located),
        "with_open_same_category_case_within_250m": existed,
        "recall_at_5": round(found / existed, 3) if existed else None,
        "mean_rank": round(statistics.mean(ranks), 2) if ranks else None,
    }
