"""Signal SQL on both backends (chDB and ClickHouse 18.16): duplicate suggestions, hotspots,
a whole detector sweep from the case projections, and the signals table's projector."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from civicloop.projections.fold.lifecycle import fold
from civicloop.projections.projector import RawMessage
from civicloop.projections.signals import evaluate, listing
from civicloop.projections.signals.hotspots import hotspots
from civicloop.projections.signals.nearby import nearby
from civicloop.projections.signals.projector import SignalProjector
from civicloop.projections.store.base import Store
from civicloop.projections.tables import schema
from civicloop.projections.tables.rows import case_row
from civicloop.schemas.event import Event
from civicloop.schemas.signals import encode_signal
from tests.support import case_events as ev

pytestmark = pytest.mark.integration
LAT, LON = 39.29, -76.61
EARTH_M = 6372797.560856  # the radius ClickHouse's greatCircleDistance uses


def _north(metres: float) -> float:
    return LAT + metres / 111_320.0


def _haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2, dp, dl = map(math.radians, (lat1, lat2, lat2 - lat1, lon2 - lon1))
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_M * math.asin(math.sqrt(a))


def _case(
    cid: str,
    t: datetime,
    *later: Event,
    category: str = "roads",
    lat: float = LAT,
    lon: float = LON,
    district: str = "D1",
    grid: str = "G1",
) -> dict:
    report = ev.reported(t, cid, category=category, district=district, grid_id=grid)
    report.fields["location"] = {**report.fields["location"], "lat": lat, "lon": lon}
    state = None
    for event in [report, ev.registered(t + timedelta(minutes=5), cid, category=category), *later]:
        state = fold(state, Event(event.type, {**event.fields, "case_id": cid}))
    return case_row(state)  # type: ignore[arg-type]


def _db(store: Store, database: str, rows: list[dict]) -> str:
    schema.ensure(store, database)
    store.insert(f"{database}.case_lifecycle", rows)
    return database


T = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)


def test_nearby_suggests_open_same_category_cases_nearest_first(store: Store, database: str) -> None:
    closed = ev.event("CaseClosed", T + timedelta(days=2), reason="resolved")
    voided = ev.voided(T + timedelta(hours=1), reason="duplicate", duplicate_of="A")
    rows = [
        _case("A", T, lat=_north(100)),
        _case("B", T, closed, lat=_north(200)),
        _case("C", T, lat=_north(-240)),
        _case("D", T, lat=_north(300)),
        _case("E", T, category="water", lat=_north(50)),
        _case("F", T, voided, lat=_north(10)),
        _case("G", T + timedelta(days=5), lat=_north(20)),
    ]
    db = _db(store, database, rows)
    # when asked a day after T: B is still open then, G not reported yet, F voided, D too far
    found = nearby(store.query, db, LAT, LON, "roads", as_of=T + timedelta(days=1))
    assert [r["case_id"] for r in found] == ["A", "B", "C"]
    for r in found:  # distances agree with an independent haversine on ClickHouse's sphere
        assert abs(r["distance_m"] - _haversine(LAT, LON, r["lat"], r["lon"])) < 1.0
    # a week later: B closed, G open and nearest; at most `limit`, and a case can be excluded
    later = nearby(store.query, db, LAT, LON, "roads", as_of=T + timedelta(days=7))
    assert [r["case_id"] for r in later] == ["G", "A", "C"]
    assert [r["case_id"] for r in nearby(store.query, db, LAT, LON, "roads", limit=2, exclude="G")] == [
        "A",
        "C",
    ]
    with pytest.raises(ValueError, match="latitude"):
        nearby(store.query, db, 95.0, LON, "roads")


def test_hotspots_rank_the_month_with_its_trend(store: Store, database: str) -> None:
    may, april = datetime(2024, 5, 10, tzinfo=UTC), datetime(2024, 4, 10, tzinfo=UTC)
    rows = [_case(f"m{n}", may + timedelta(hours=n), grid="G1") for n in range(6)]
    rows += [_case(f"a{n}", april + timedelta(hours=n), grid="G1") for n in range(3)]
    rows += [_case(f"w{n}", may + timedelta(hours=n), category="water", grid="G2") for n in range(2)]
    rows += [_case("old", datetime(2024, 3, 1, tzinfo=UTC), category="water", grid="G2")]
    db = _db(store, database, rows)
    ranked = hotspots(store.query, db, "2024-05", by="grid")
    assert [(r["category"], r["place"], r["cases"], r["previous_month"], r["trend"]) for r in ranked] == [
        ("roads", "G1", 6, 3, "+100%"),
        ("water", "G2", 2, 0, "new"),
    ]
    by_district = hotspots(store.query, db, "2024-05", by="district")
    assert [(r["category"], r["place"], r["cases"]) for r in by_district] == [
        ("roads", "D1", 6),
        ("water", "D1", 2),
    ]


def test_a_sweep_raises_the_surge_of_its_cell_deterministically(store: Store, database: str) -> None:
    # given six weeks of about 4 road reports a day in D1/G1 and 3 water reports in D2/G9,
    # and on day 38 twenty road reports
    rng = random.Random(5)
    start = datetime(2024, 4, 1, tzinfo=UTC)
    rows, n = [], 0
    for day in range(42):
        for category, district, grid, mean in (("roads", "D1", "G1", 4), ("water", "D2", "G9", 3)):
            count = 20 if (day == 38 and category == "roads") else max(0, round(rng.gauss(mean, 1)))
            for _ in range(count):
                n += 1
                t = start + timedelta(days=day, minutes=rng.randrange(60 * 8, 60 * 20))
                rows.append(_case(f"c{n}", t, category=category, district=district, grid=grid))
    db = _db(store, database, rows)
    settings = evaluate.SignalSettings(windows=("day",))
    until = start + timedelta(days=42, hours=1)
    # when the detectors sweep everything and mark their progress
    steps = list(evaluate.sweep(store.query, db, settings, until))
    for step in steps:
        evaluate.mark(store, db, step)
    raised = [s for step in steps for s in step.signals]
    surges = sorted((s["level"], s["place"], s["window_start"]) for s in raised if s.type == "SurgeDetected")
    day38 = start + timedelta(days=38)
    # then the surge is raised for day 38 in D1 and in G1 and nowhere else; it ended on day 39
    assert surges == [("district", "D1", day38), ("grid", "G1", day38)]
    ended = [s for s in raised if s.type == "SurgeEnded"]
    assert {(s["place"], s["window_start"]) for s in ended} == {
        ("D1", day38 + timedelta(days=1)),
        ("G1", day38 + timedelta(days=1)),
    }
    # and the 5-in-30-days recurring problems of both grid cells were raised once each
    recurring = [s for s in raised if s.type == "RecurringProblemDetected"]
    assert sorted(s["place"] for s in recurring) == ["G1", "G9"]
    # each naming the earliest cases of its own cell in its 30 days (one look-up serves both)
    for signal in recurring:
        since = signal["day"] - timedelta(days=29)
        own = sorted(
            (r["reported_at"], r["case_id"])
            for r in rows
            if r["grid_id"] == signal["place"]
            and since <= r["reported_at"] < signal["day"] + timedelta(days=1)
        )
        assert signal["case_ids"] == [cid for _, cid in own[:50]]
        assert signal["first_reported_at"] == own[0][0]
    # a second sweep raises nothing new; a sweep from scratch raises the same ids
    assert [s for step in evaluate.sweep(store.query, db, settings, until) for s in step.signals] == []
    store.command(f"TRUNCATE TABLE {db}.signal_progress")
    again = [s.event_id for step in evaluate.sweep(store.query, db, settings, until) for s in step.signals]
    assert sorted(again) == sorted(s.event_id for s in raised)
    # and projecting them (twice, plus one undecodable message) gives one row per signal
    projector = SignalProjector(store, db, lambda letters: None)
    batch = [RawMessage("ns.signals", 0, o, s.key.encode(), encode_signal(s)) for o, s in enumerate(raised)]
    projector.project(batch)
    result = projector.project([*batch, RawMessage("ns.signals", 0, len(batch), None, b"junk")])
    assert result.projected == len(raised) and [d.reason for d in result.dead] == ["too_short"]
    listed = listing.signals(store.query, db, detail=True)
    assert sorted(r["event_id"] for r in listed) == sorted(s.event_id for s in raised)
    surge = next(r for r in listed if r["type"] == "SurgeDetected" and r["level"] == "district")
    assert surge["observed"] == 20 and surge["signal"]["category"] == "roads"
