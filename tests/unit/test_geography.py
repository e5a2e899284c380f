"""Point → district and grid cell: inside, on edges, in holes, outside; what the SDK, the API's
intake, the simulator and the map do with it; and boundaries files that are refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from civicloop import config, geography
from civicloop.api import catalogue, intake
from civicloop.api.dashboard import charts
from civicloop.api.errors import ApiError
from civicloop.geography import Boundaries, Place
from civicloop.schemas.events import new_event
from civicloop.tools.ingest import nyc311
from civicloop.tools.simulate import simulate
from civicloop.tools.simulate.city import boundaries_text
from tests.support.geo import rectangle, write_test_city

NYC = Path(__file__).parents[1] / "data" / "nyc"

# Two districts side by side sharing the edge lon = 1; A has a hole (0.2..0.4 square) that the
# enclave E fills in part, and its own two cells; B is a MultiPolygon of two squares.
HOLE = [[0.2, 0.2], [0.4, 0.2], [0.4, 0.4], [0.2, 0.4], [0.2, 0.2]]
A = {
    "type": "Feature",
    "properties": {"level": "district", "district": "A", "name": "Alpha"},
    "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]], HOLE]},
}
B = {
    "type": "Feature",
    "properties": {"level": "district", "district": "B"},
    "geometry": {
        "type": "MultiPolygon",
        "coordinates": [
            [[[1, 0], [2, 0], [2, 1], [1, 1], [1, 0]]],
            [[[3, 0], [4, 0], [4, 1], [3, 1], [3, 0]]],
        ],
    },
}
ENCLAVE = rectangle(0.2, 0.2, 0.3, 0.3, level="district", district="E")
CELLS = [
    rectangle(0, 0, 1, 0.5, level="grid", grid="A-south", district="A"),
    rectangle(0, 0.5, 1, 1, level="grid", grid="A-north", district="A"),
    rectangle(1, 0, 2, 1, level="grid", grid="B-west", district="B"),
]
TOY = Boundaries({"type": "FeatureCollection", "features": [A, B, ENCLAVE, *CELLS]}, "toy")


@pytest.mark.parametrize(
    ("lat", "lon", "place"),
    [
        (0.1, 0.5, Place("A", "A-south")),  # inside
        (0.75, 0.5, Place("A", "A-north")),
        (0.5, 1.5, Place("B", "B-west")),
        (0.5, 3.5, Place("B", None)),  # B's second polygon: no cell there
        (0.75, 1.0, Place("A", "A-north")),  # on the edge A|B: the first in the file
        (0.5, 0.5, Place("A", "A-south")),  # on the edge between A's two cells: the first cell
        (0.5, 1.0, Place("A", "A-south")),  # on both edges
        (0.0, 0.0, Place("A", "A-south")),  # on the service area's outer corner: inside
        (1.0, 2.0, Place("B", "B-west")),
        (0.25, 0.25, Place("E", None)),  # in A's hole, where the enclave is
        (0.35, 0.35, None),  # in A's hole, outside the enclave: in no district
        (0.5, 2.5, None),  # between B's two polygons
        (-0.1, 0.5, None),  # south of everything
        (0.5, -180.0, None),
    ],
)
def test_a_point_gets_the_district_and_cell_covering_it(lat: float, lon: float, place: Place | None) -> None:
    assert TOY.locate(lat, lon) == place


def test_on_a_district_edge_the_cell_is_one_of_that_districts() -> None:
    # B's cell listed before A's: the point on the edge is A's (first district), so is its cell
    swapped = Boundaries({"type": "FeatureCollection", "features": [A, B, CELLS[2], *CELLS[:2]]}, "swapped")
    assert swapped.locate(0.75, 1.0) == Place("A", "A-north")


def test_fill_adds_what_is_missing_and_keeps_what_was_given() -> None:
    at = {"lat": 0.75, "lon": 0.5, "address": None}
    assert TOY.fill({**at, "district": None, "grid_id": None}) == {
        **at,
        "district": "A",
        "grid_id": "A-north",
    }
    assert TOY.fill({**at, "district": "", "grid_id": ""})["grid_id"] == "A-north"  # empty: missing
    kept = {**at, "district": "Ward 7", "grid_id": "G9"}
    assert TOY.fill(kept) == kept
    # a district given and the point elsewhere by the boundaries: no cell of another district
    assert TOY.fill({**at, "district": "Ward 7", "grid_id": None}) == {
        **at,
        "district": "Ward 7",
        "grid_id": None,
    }
    assert TOY.fill({**at, "district": "A", "grid_id": None})["grid_id"] == "A-north"
    assert TOY.fill({**at, "district": None, "grid_id": "G9"}) == {**at, "district": "A", "grid_id": "G9"}
    outside = {"lat": 5.0, "lon": 5.0, "address": None, "district": None, "grid_id": None}
    assert TOY.fill(outside) == outside
    no_point = {"lat": None, "lon": None, "address": "12 Elm Road", "district": None, "grid_id": None}
    assert TOY.fill(no_point) == no_point


def test_bounds_and_outlines_come_from_the_districts() -> None:
    assert TOY.bounds == (0.0, 0.0, 4.0, 1.0)
    outlines = {o.code: o for o in TOY.outlines()}
    assert [len(outlines[c].rings) for c in ("A", "B", "E")] == [2, 2, 1]  # A's hole is a ring
    assert outlines["A"].name == "Alpha" and outlines["B"].name == "B"
    label = TOY.locate(outlines["A"].label[1], outlines["A"].label[0])
    assert label is not None and label.district == "A"  # the name goes inside the district


def collection(*features: Any) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


BOWTIE = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"type": "Feature"}, "expected a GeoJSON FeatureCollection"),
        (collection(CELLS[0]), "no feature has properties.level = 'district'"),
        (collection({**A, "properties": {"level": "ward", "district": "A"}}), "feature 0: properties.level"),
        (collection({**A, "properties": {"level": "district"}}), "properties.district must be a non-empty"),
        (collection({**A, "geometry": {"type": "Point", "coordinates": [0, 0]}}), "Polygon or MultiPolygon"),
        (collection({**A, "geometry": BOWTIE}), "invalid polygon (Self-intersection"),
        (collection(A, A), "district 'A' appears more than once"),
        (collection(A, CELLS[2]), "grid cell 'B-west' names district 'B', not in the file"),
        (
            collection(rectangle(30.0, 120.0, 31.0, 121.0, level="district", district="X")),
            "[longitude, latitude]",
        ),
    ],
)
def test_a_bad_boundaries_file_is_refused_naming_what_is_wrong(content: Any, message: str) -> None:
    with pytest.raises(ValueError, match="^toy: ") as raised:
        Boundaries(content, "toy")
    assert message in str(raised.value)


def test_a_file_that_is_not_geojson_is_refused_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "city.geojson"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match=f"^{bad}: not a GeoJSON file"):
        geography.load(bad)
    with pytest.raises(ValueError, match="cannot read"):
        geography.load(tmp_path / "missing.geojson")


def test_the_packaged_demo_city_is_the_simulators_city() -> None:
    shipped = resources.files("civicloop").joinpath(geography.DEMO_CITY).read_text(encoding="utf-8")
    assert shipped == boundaries_text(), "regenerate: python -m civicloop.tools.simulate.city"
    city = geography.load()
    assert len(city.districts) == 6 and len(city.cells) == 452
    assert city.locate(31.2815, 121.4312) == Place("D01", "D01-0203")
    assert city.locate(31.25, 121.45) is None  # the river between the rows of districts


def test_the_setting_names_a_file_under_home_and_out_of_area_is_refuse_or_accept(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CIVICLOOP_HOME", str(tmp_path))
    monkeypatch.delenv("CIVICLOOP_BOUNDARIES", raising=False)
    monkeypatch.delenv("CIVICLOOP_OUT_OF_AREA", raising=False)
    loaded = config.load()
    assert (loaded.boundaries, loaded.out_of_area) == (None, "refuse")
    monkeypatch.setenv("CIVICLOOP_BOUNDARIES", "city.geojson")
    monkeypatch.setenv("CIVICLOOP_OUT_OF_AREA", "accept")
    loaded = config.load()
    assert (loaded.boundaries, loaded.out_of_area) == (tmp_path / "city.geojson", "accept")
    assert config.to_env(loaded)["CIVICLOOP_BOUNDARIES"] == str(tmp_path / "city.geojson")
    monkeypatch.setenv("CIVICLOOP_OUT_OF_AREA", "maybe")
    with pytest.raises(ValueError, match="CIVICLOOP_OUT_OF_AREA='maybe' must be refuse or accept"):
        config.load()


def report(**location: Any) -> dict[str, Any]:
    event = new_event(
        "CaseReported",
        case_id="c-geo",
        actor={"type": "citizen", "id": "r1"},
        source="test",
        occurred_at=datetime.now(UTC) - timedelta(minutes=1),
        channel="app",
        category="road.pothole",
        description="a hole",
        priority="normal",
        reporter_ref=None,
        location=location,
    )
    placed: dict[str, Any] = event["location"]
    return placed


def test_the_sdk_places_a_report_by_the_configured_boundaries(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CIVICLOOP_BOUNDARIES", raising=False)
    # the demo city by default: a point there gets its district and cell
    assert report(lat=31.2815, lon=121.4312) == {
        "lat": 31.2815,
        "lon": 121.4312,
        "address": None,
        "district": "D01",
        "grid_id": "D01-0203",
    }
    # what the caller gave is kept; a point outside gets nothing
    assert report(lat=31.2815, lon=121.4312, district="Ward 7")["district"] == "Ward 7"
    assert report(lat=39.3, lon=-76.6)["district"] is None
    # a deployment's own file
    monkeypatch.setenv("CIVICLOOP_HOME", str(tmp_path))
    monkeypatch.setenv("CIVICLOOP_BOUNDARIES", "city.geojson")
    write_test_city(tmp_path / "city.geojson")
    assert (report(lat=39.3, lon=-76.6)["district"], report(lat=39.3, lon=-76.6)["grid_id"]) == (
        "BAL",
        "BAL-11",
    )


def submission(lat: str, lon: str) -> intake.Submission:
    form = {"service_code": "POTHOLE", "lat": lat, "long": lon, "attribute[SIZE]": "small"}
    return intake.parse(list(form.items()), catalogue.load())


def test_the_api_places_a_report_and_refuses_one_outside_unless_told_to_accept() -> None:
    city = geography.load()
    inside = submission("31.2815", "121.4312")
    intake.place(inside, city, accept_outside=False)
    assert (inside.district, inside.grid) == ("D01", "D01-0203")

    far = submission("39.3", "-76.6")
    with pytest.raises(ApiError) as raised:
        intake.place(far, city, accept_outside=False)
    assert raised.value.status == 400
    (problem,) = raised.value.problems
    assert (problem.field, problem.code) == ("lat", "out_of_area")
    assert "lat 39.3, long -76.6 is outside the service area" in problem.description
    assert "latitude 31.14 to 31.34, longitude 121.4 to 121.7" in problem.description

    intake.place(far, city, accept_outside=True)
    assert (far.district, far.grid) == (None, None)


def test_every_simulated_report_is_inside_the_district_and_cell_the_boundaries_give() -> None:
    city = geography.load()
    start = datetime(2026, 1, 5, tzinfo=UTC)
    reports = [e for e in simulate(7, 400, seed=11, start=start) if e.type == "CaseReported"]
    assert len(reports) > 2000
    for event in reports:
        where = event["location"]
        assert city.locate(where["lat"], where["lon"]) == Place(where["district"], where["grid_id"]), where
    assert len({e["location"]["district"] for e in reports}) == 6


def places_data(*points: tuple[float, float]) -> dict[str, Any]:
    cases = [
        {"case_id": f"c{n}", "state": "REPORTED", "lat": lat, "lon": lon}
        for n, (lat, lon) in enumerate(points)
    ]
    return {"cases": cases, "total": len(cases)}


def test_the_map_draws_the_districts_and_is_framed_on_them_not_on_outliers() -> None:
    city = geography.load()
    west, south, east, north = city.bounds
    # given the city's points and one report from far away
    figure = charts.places(places_data((31.2815, 121.4312), (31.2, 121.55), (0.0, 0.0)), city)
    districts = [t for t in figure["data"] if t.get("legendgroup") == "districts" and t.get("fill")]
    assert sorted(t["meta"] for t in districts) == ["D01", "D02", "D03", "D04", "D05", "D06"]
    names = next(t for t in figure["data"] if t.get("mode") == "text")
    assert "Old Town" in names["text"]
    # then the map is framed on the service area, the outlier left out of the frame and counted
    (x0, x1), (y0, y1) = figure["layout"]["xaxis"]["range"], figure["layout"]["yaxis"]["range"]
    assert x0 < west < east < x1 and x1 - x0 < (east - west) * 1.1
    assert y0 < south < north < y1 and y1 - y0 < (north - south) * 1.1
    assert "1 outside the map" in figure["layout"]["title"]["text"]
    # and the cases are drawn after (above) the districts
    states = [n for n, t in enumerate(figure["data"]) if t.get("name") == "reported"]
    assert states and min(states) > max(figure["data"].index(t) for t in districts)


def test_boundaries_of_another_city_are_not_drawn_under_this_citys_cases() -> None:
    figure = charts.places(places_data((39.3, -76.6), (39.31, -76.61)), geography.load())
    assert not [t for t in figure["data"] if t.get("legendgroup") == "districts"]
    assert "range" not in figure["layout"]["xaxis"]
    assert json.dumps(figure)  # still a plain JSON figure


def test_an_import_keeps_the_exports_districts_and_fills_only_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # given boundaries that cover New York, in a deployment's own file
    nyc = collection(
        rectangle(-74.3, 40.4, -73.6, 41.0, level="district", district="NYC"),
        rectangle(-74.3, 40.4, -73.6, 41.0, level="grid", grid="NYC-1", district="NYC"),
    )
    (tmp_path / "nyc.geojson").write_text(json.dumps(nyc), encoding="utf-8")
    monkeypatch.setenv("CIVICLOOP_HOME", str(tmp_path))
    monkeypatch.setenv("CIVICLOOP_BOUNDARIES", "nyc.geojson")
    # when the NYC export is imported
    events = {e.case_id: e for e in nyc311.read(NYC / "iso_2019.csv") if e.type == "CaseReported"}
    # then a row with no borough of its own gets the boundaries' district and cell
    unplaced = events["nyc-43000005"]["location"]
    assert (unplaced["district"], unplaced["grid_id"]) == ("NYC", "NYC-1")
    # and a row with its own borough and community board keeps them
    own = events["nyc-43000001"]["location"]
    assert own["grid_id"] == "01 BROOKLYN" and own["district"] not in (None, "NYC")
