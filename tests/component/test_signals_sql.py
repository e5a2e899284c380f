"""Signal SQL on both backends (chDB and ClickHouse 18.16): duplicate suggestions, hotspots,
a whole detector sweep from the case projections, and the signals table's projector."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from civicloop.projections.fold.lifecycle import fold
from civicloop.projections.projector import RawMessage
from civicloop.projections.read_model import progress
from civicloop.projections.read_model import signals as listing
from civicloop.projections.read_model.hotspots import hotspots
from civicloop.projections.read_model.nearby import nearby
from civicloop.projections.signals import evaluate
from civicloop.projections.signals.arrival import CaseLog
from civicloop.projections.signals.projector import SignalProjection
from civicloop.projections.store.base import Store
from civicloop.projections.tables.rows import case_row
from civicloop.schemas.event import Event
from civicloop.schemas.signals import Signal, encode_signal
from tests.support import case_events as ev
from tests.support.signal_events import day_surge

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
    """The case rows, and their reports logged in time order on one partition of ``TOPIC``."""
    store.lay_out(database)
    store.insert(f"{database}.case_lifecycle", rows)
    ordered = sorted(rows, key=lambda r: (r["reported_at"], r["case_id"]))
    store.insert(
        f"{database}.event_log",
        [_logged(r["case_id"], r["reported_at"], 0, n) for n, r in enumerate(ordered)],
    )
    return database


def _logged(case_id: str, at: datetime, partition: int, offset: int) -> dict:
    """The event-log row of a case's report read at (partition, offset) of ``TOPIC``."""
    return {
        "event_id": f"{case_id}-reported",
        "case_id": case_id,
        "type": "CaseReported",
        "schema_version": 1,
        "occurred_at": at,
        "recorded_at": at,
        "actor_type": "citizen",
        "actor_id": "",
        "source": "test",
        "topic": TOPIC,
        "partition": partition,
        "offset": offset,
        "payload": b"",
        "projected_at": at,
    }


T = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
TOPIC = "ns.case-events"
ONE_PARTITION = CaseLog(TOPIC, frozenset({0}))


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
    # when the detectors sweep everything and mark their progress
    steps = list(evaluate.sweep(store.query, db, settings, ONE_PARTITION))
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
    assert [
        s for step in evaluate.sweep(store.query, db, settings, ONE_PARTITION) for s in step.signals
    ] == []
    store.command(f"TRUNCATE TABLE {db}.signal_progress")
    again = [
        s.event_id for step in evaluate.sweep(store.query, db, settings, ONE_PARTITION) for s in step.signals
    ]
    assert sorted(again) == sorted(s.event_id for s in raised)
    # and projecting them (twice, plus one undecodable message) gives one row per signal
    projector = SignalProjection(store, db, lambda letters: None)
    batch = [RawMessage("ns.signals", 0, o, s.key.encode(), encode_signal(s)) for o, s in enumerate(raised)]
    projector.project(batch)
    result = projector.project([*batch, RawMessage("ns.signals", 0, len(batch), None, b"junk")])
    assert result.projected == len(raised) and [d.reason for d in result.dead] == ["too_short"]
    listed = listing.between(store.query, db, detail=True)
    assert sorted(r["event_id"] for r in listed) == sorted(s.event_id for s in raised)
    surge = next(r for r in listed if r["type"] == "SurgeDetected" and r["level"] == "district")
    assert surge["observed"] == 20 and surge["signal"]["category"] == "roads"


def test_a_signals_batch_the_store_refuses_is_split_and_dead_lettered_like_a_case_batch(
    store: Store, database: str
) -> None:
    # given five surges, one of them dated in 2999 (beyond what a DateTime column holds), and junk
    store.lay_out(database)
    start = datetime(2024, 5, 6, tzinfo=UTC)
    surges = [_surge(f"G{n}", start + timedelta(days=n)) for n in range(4)]
    surges.insert(2, _surge("G9", datetime(2999, 1, 1, tzinfo=UTC)))
    batch = [RawMessage("ns.signals", 0, o, s.key.encode(), encode_signal(s)) for o, s in enumerate(surges)]
    batch.append(RawMessage("ns.signals", 0, len(batch), None, b"junk"))
    published: list[object] = []
    projection = SignalProjection(store, database, published.extend)

    # when the worker projects it (the store refuses the whole batch for one row)
    result = projection.project_until_written(batch)

    # then the refused signal alone is dead-lettered, the junk too, and the rest is written
    assert {d.offset: d.reason for d in result.dead} == {2: "store_rejected:out_of_range", 5: "too_short"}
    assert len(published) == 2
    stored = store.query(f"SELECT event_id FROM {database}.signals FINAL ORDER BY offset")
    assert stored == [(s.event_id,) for n, s in enumerate(surges) if n != 2]
    letters = store.query(f"SELECT offset, reason FROM {database}.dead_letters FINAL ORDER BY offset")
    assert letters == [(2, "store_rejected:out_of_range"), (5, "too_short")]
    assert progress.projected_offsets(store.query, database, "ns.signals") == {0: 5}


def _surge(place: str, start: datetime) -> Signal:
    return day_surge(start, place)


def _city_log(start: datetime) -> tuple[list[list[dict]], set[str]]:
    """Six weeks of about 4 road reports a day in D1/G1 and 3 water reports in D2/G9 on three
    partitions, in time order on each, with 20 road reports on day 38 — and 16 more road reports
    of day 30 that partition 1 carries only after its reports of day 33: late for day 30."""
    rng = random.Random(11)
    timed, n = [], 0
    for day in range(42):
        for category, district, grid, mean in (("roads", "D1", "G1", 4), ("water", "D2", "G9", 3)):
            count = 20 if (day == 38 and category == "roads") else max(0, round(rng.gauss(mean, 1)))
            for _ in range(count):
                n += 1
                t = start + timedelta(days=day, minutes=rng.randrange(60 * 8, 60 * 20))
                timed.append((t, _case(f"c{n}", t, category=category, district=district, grid=grid)))
    timed.sort(key=lambda x: (x[0], x[1]["case_id"]))
    partitions: list[list[dict]] = [[], [], []]
    for m, (_, row) in enumerate(timed):
        partitions[m % 3].append(row)
    late = [_case(f"late{k}", start + timedelta(days=30, hours=10, minutes=k)) for k in range(16)]
    after = next(i for i, r in enumerate(partitions[1]) if r["reported_at"] >= start + timedelta(days=33))
    partitions[1][after:after] = late
    return partitions, {r["case_id"] for r in late}


def _project(store: Store, db: str, partition: int, rows: list[dict], first: int) -> None:
    """What the projector writes of ``rows`` read from ``partition`` at offsets from ``first``."""
    store.insert(f"{db}.case_lifecycle", rows)
    store.insert(
        f"{db}.event_log",
        [_logged(r["case_id"], r["reported_at"], partition, first + n) for n, r in enumerate(rows)],
    )


def _raise(
    store: Store, db: str, settings: evaluate.SignalSettings, steps: int | None = None, mark: bool = True
) -> list:
    """One sweep as the agent runs it (at most ``steps`` steps; ``mark``: False = killed before
    marking): the signals it raised."""
    found = []
    log = CaseLog(TOPIC, frozenset({0, 1, 2}))
    for n, step in enumerate(evaluate.sweep(store.query, db, settings, log)):
        if steps is not None and n >= steps:
            break
        found.extend(step.signals)
        if mark:
            evaluate.mark(store, db, step)
    return found


def test_signals_depend_on_the_log_alone_not_on_when_or_by_whom_they_are_swept(
    store: Store, database: str
) -> None:
    # given a three-partition log with reports late for their day on one partition
    start = datetime(2024, 3, 4, tzinfo=UTC)
    partitions, late = _city_log(start)
    settings = evaluate.SignalSettings(windows=("hour", "day"), chunk_weeks=1)
    # when a clean run projects all of it and then sweeps
    clean = f"{database}clean"
    store.lay_out(clean)
    for p, rows in enumerate(partitions):
        _project(store, clean, p, rows, 0)
    want = {s.event_id: s.fields for s in _raise(store, clean, settings)}
    # then the late reports count nowhere: day 30 is no surge, day 38 is, in D1 and G1
    day_surges = {
        (s["place"], s["window_start"])
        for s in want.values()
        if "window" in s and s["window"] == "day" and "alpha" in s
    }
    assert day_surges == {("D1", start + timedelta(days=38)), ("G1", start + timedelta(days=38))}
    assert not late & {c for s in want.values() for c in s.get("case_ids", [])}

    # when other databases project the partitions interleaved — at random, and with partition 1
    # (the late reports') last — while two workers sweep up to 8 steps at a time, one of them
    # sometimes killed before it marks
    rng = random.Random(3)
    for order, db in (("random", database), ("1 last", f"{database}last")):
        store.lay_out(db)
        done, raised = [0, 0, 0], []
        while any(done[p] < len(rows) for p, rows in enumerate(partitions)):
            left = [p for p in range(3) if done[p] < len(partitions[p])]
            p = rng.choice(left) if order == "random" else min(left, key=lambda q: (q == 1, q))
            rows = partitions[p][done[p] : done[p] + rng.randrange(1, 20)]
            _project(store, db, p, rows, done[p])
            done[p] += len(rows)
            if order != "random" or rng.random() < 0.5:
                raised += _raise(store, db, settings, steps=rng.randrange(1, 9), mark=rng.random() < 0.8)
        raised += _raise(store, db, settings)
        # then they raised exactly the clean run's signals, each id with the same fields every time
        got: dict[str, dict] = {}
        for signal in raised:
            assert got.setdefault(signal.event_id, signal.fields) == signal.fields, order
        assert got == want, order

    # and a replay (the marker rebuilt empty) raises the same set again
    store.command(f"TRUNCATE TABLE {database}.signal_progress")
    assert {s.event_id: s.fields for s in _raise(store, database, settings)} == want
