"""The dashboard in a real browser: a simulated city through the real broker and worker into
ClickHouse (chDB and the 18.16 server), the dashboard served by civicloop's own HTTP server
(``civicloop api``, a real process on a loopback port) behind an analyst's API key, headless
Chromium (Debian's) loading it. The figures on the page equal
``civicloop metrics --format json`` (and ``backlog``) for the same period and filters, before
and after a filter changes; the case page shows the case's events; nothing is requested
from anywhere but the server. Screenshots go to build/artifacts/dashboard/."""

from __future__ import annotations

import json
import shlex
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait
from typer.testing import CliRunner

from civicloop import geography
from civicloop.api.keys import ApiKeyStore
from civicloop.cli import app as cli
from civicloop.config import Config
from civicloop.projections.backend import from_url
from civicloop.schemas.event import Event
from civicloop.schemas.events import new_event
from civicloop.tools.local.api_server import api_process, api_url, start_api
from civicloop.tools.simulate import simulate
from tests.conftest import REPO
from tests.support.browser import chromium, outside, overflow, requested, save_screenshot
from tests.support.workers import Worker, produce, wait_projected

pytestmark = pytest.mark.integration

START = datetime(2026, 8, 3, tzinfo=UTC)  # a Monday, well in the past
DAYS = 28
FROM, TO = "2026-08-17", "2026-08-31"  # the last two weeks; the previous period is the first two
PREVIOUS = ("2026-08-03", "2026-08-17")
ARTIFACTS = REPO / "build" / "artifacts" / "dashboard"


#: a citizen's app report in the period, with all a report may carry (the case page shows it)
APP_REPORT = new_event(
    "CaseReported",
    case_id="app-report-1",
    actor={"type": "citizen", "id": "anonymous"},
    source="tests/dashboard",
    occurred_at=datetime(2026, 8, 20, 10, tzinfo=UTC),
    channel="app",
    category="road.pothole",
    description="a deep hole",
    location={"lat": 39.2904, "lon": -76.6122, "address": "12 Elm Road"},
    priority="normal",
    reporter_ref=None,
    media_url="https://img.example/hole.jpg",
    attributes={"SIZE": ["large"], "LANE": ["left"]},
)


@pytest.fixture(scope="module")
def city() -> list[Event]:
    return [*simulate(days=DAYS, cases_per_day=70, seed=31, start=START), APP_REPORT]


@pytest.fixture
def analyst_key(config: Config) -> str:
    store = ApiKeyStore(config.api_keys)
    try:
        return store.create("analyst", label="dashboard test")[1]
    finally:
        store.close()


@pytest.fixture
def dashboard(city: list[Event], config: Config, worker: Worker, analyst_key: str) -> Iterator[str]:
    wait_projected(config, produce(config, city), 240)
    start_api(config)
    try:
        yield api_url(config)
    finally:
        api_process(config).stop(timeout=30)


def cli_json(*args: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def cli_metrics(t_from: str, t_to: str, by: str = "all", **filters: str) -> list[dict[str, Any]]:
    flags = [part for dim, value in filters.items() for part in (f"--{dim}", value)]
    return cli_json("metrics", "--from", t_from, "--to", t_to, "--by", by, *flags)


def cli_open(as_of: str, **filters: str) -> tuple[int, int]:
    flags = [part for dim, value in filters.items() for part in (f"--{dim}", value)]
    rows = cli_json("backlog", "--as-of", as_of, "--by", "all", *flags)
    return sum(r["cases"] for r in rows), sum(r["cases"] for r in rows if r["overdue"])


def state(driver: WebDriver) -> str:
    return str(driver.find_element(By.TAG_NAME, "body").get_attribute("data-state"))


def wait_for(driver: WebDriver, *states: str, loaded: dict[str, str] | None = None) -> None:
    def done(d: WebDriver) -> bool:
        if state(d) not in states:
            return False
        if loaded is None:
            return True
        body = d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") or ""
        shown = dict(part.split("=", 1) for part in body.split("&") if part)
        return all(shown.get(k) == v for k, v in loaded.items())

    try:
        WebDriverWait(driver, 120, poll_frequency=0.2).until(done)
    except TimeoutException:
        body = driver.find_element(By.TAG_NAME, "body")
        raise AssertionError(
            f"waited for {states} {loaded}; the page is {state(driver)!r} with "
            f"{body.get_attribute('data-loaded')!r}, error {driver.find_element(By.ID, 'error').text!r}"
        ) from None


def number(text: str | None) -> float | None:
    return None if text in (None, "null") else float(text)  # type: ignore[arg-type]


def tiles(driver: WebDriver) -> dict[str, dict[str, Any]]:
    found = {}
    for tile in driver.find_elements(By.CSS_SELECTOR, "#tiles .tile"):
        found[str(tile.get_attribute("data-key"))] = {
            "value": number(tile.get_attribute("data-value")),
            "previous": number(tile.get_attribute("data-previous")),
            "shown": tile.find_element(By.CLASS_NAME, "value").text,
        }
    return found


def assert_page_equals_cli(driver: WebDriver, **filters: str) -> None:
    shown = tiles(driver)
    (now,) = cli_metrics(FROM, TO, **filters) or [None]
    (before,) = cli_metrics(*PREVIOUS, **filters) or [None]
    assert now is not None and now["reported"] > 0, "the period has cases"
    rates = ("response_rate", "resolution_rate", "satisfaction_rate", "closure_rate", "on_time_closure_rate")
    for key in (*rates, "reported", "closed"):
        assert shown[key]["value"] == now[key], key
        assert shown[key]["previous"] == (before or {}).get(
            key, 0 if key in ("reported", "closed") else None
        ), key
        if key in rates and now[key] is not None:
            # what a person reads: the same figure, rounded to a tenth of a percent
            assert abs(float(shown[key]["shown"].rstrip(" %")) / 100 - now[key]) <= 0.0005 + 1e-12
    assert (shown["backlog"]["value"], shown["backlog_overdue"]["value"]) == cli_open(TO, **filters)
    assert (shown["backlog"]["previous"], shown["backlog_overdue"]["previous"]) == cli_open(FROM, **filters)

    # cases with no lead department yet (not dispatched) have no row in the league table
    league = [row for row in cli_metrics(FROM, TO, by="department", **filters) if row["group"]]
    assert len(driver.find_elements(By.CSS_SELECTOR, "#league tbody tr")) == len(league) > 0
    for row in league:
        cells = driver.find_elements(
            By.CSS_SELECTOR, f"#league tr[data-department='{row['group']}'] td[data-key]"
        )
        for cell in cells:
            key = str(cell.get_attribute("data-key"))
            assert number(cell.get_attribute("data-value")) == row[key], (row["group"], key)
        assert len(cells) == 8


def test_the_dashboard_shows_the_clis_figures_loads_nothing_from_outside_and_needs_the_key(
    dashboard: str, city: list[Event], config: Config, analyst_key: str
) -> None:
    backend = from_url(config.clickhouse_url).kind
    seen: list[str] = []
    with chromium() as driver:
        # given a browser without a key: the page asks for one, and refuses a wrong one
        driver.get(f"{dashboard}/dashboard?from={FROM}&to={TO}")
        wait_for(driver, "key")
        driver.find_element(By.ID, "api-key").send_keys("not-the-key")
        driver.find_element(By.ID, "key-submit").click()
        WebDriverWait(driver, 60).until(lambda d: driver.find_element(By.ID, "key-error").text)
        assert state(driver) == "key"
        driver.find_element(By.ID, "api-key").clear()
        driver.find_element(By.ID, "api-key").send_keys(analyst_key)
        driver.find_element(By.ID, "key-submit").click()

        # when the figures are on the page, then they are the CLI's for the same period
        wait_for(driver, "ready", loaded={"from": FROM, "to": TO})
        assert_page_equals_cli(driver)
        save_screenshot(driver, ARTIFACTS / f"{backend}-all.png")
        assert overflow(driver) == 0
        save_screenshot(driver, ARTIFACTS / f"{backend}-all-narrow.png", width=400)
        assert overflow(driver) == 0
        driver.set_window_size(1400, 1800)
        assert_map_shows_the_districts(driver)

        # when a filter changes, then the figures are the CLI's with that filter
        departments = [row for row in cli_metrics(FROM, TO, by="department") if row["group"]]
        department = max(departments, key=lambda r: r["reported"])["group"]
        Select(driver.find_element(By.ID, "f-department")).select_by_value(department)
        driver.find_element(By.ID, "apply").click()
        wait_for(driver, "ready", loaded={"from": FROM, "to": TO, "department": department})
        assert_page_equals_cli(driver, department=department)
        save_screenshot(driver, ARTIFACTS / f"{backend}-department.png")

        # and with a second filter on top of it
        district = max(
            cli_metrics(FROM, TO, by="district", department=department), key=lambda r: r["reported"]
        )
        Select(driver.find_element(By.ID, "f-district")).select_by_value(district["group"])
        driver.find_element(By.ID, "apply").click()
        wait_for(driver, "ready", loaded={"department": department, "district": district["group"]})
        assert_page_equals_cli(driver, department=department, district=district["group"])
        # the "same figures" line is a command a person may paste: each argument quoted
        same = driver.find_element(By.ID, "same-as").text.removeprefix("Same figures: ")
        assert shlex.split(same) == [
            *("civicloop", "metrics", "--by", "all", "--from", FROM, "--to", TO),
            *("--department", department, "--district", district["group"], "--format", "json"),
        ]
        seen += requested(driver)

        # the case page shows every event of the case, in the order they occurred
        case_id, events = busiest_case(city)
        driver.get(f"{dashboard}/dashboard/cases/{case_id}")
        wait_for(driver, "ready")
        shown = [
            li.get_attribute("data-type") for li in driver.find_elements(By.CSS_SELECTOR, "#timeline li")
        ]
        assert shown == [e.type for e in events]
        save_screenshot(driver, ARTIFACTS / f"{backend}-case.png")
        # and it fits the window, 1400 px wide or a phone's 400: its task table (nine columns)
        # wraps its times, and scrolls inside its own box where that is not enough
        assert overflow(driver) == 0
        save_screenshot(driver, ARTIFACTS / f"{backend}-case-narrow.png", width=400)
        assert overflow(driver) == 0
        driver.set_window_size(1400, 1800)
        seen += requested(driver)

        # and a report's address, coordinates, answers and media link
        driver.get(f"{dashboard}/dashboard/cases/{APP_REPORT.case_id}")
        wait_for(driver, "ready")
        facts = {
            td.get_attribute("data-key"): td.text
            for td in driver.find_elements(By.CSS_SELECTOR, "#case-facts td[data-key]")
        }
        assert (facts["address"], facts["coordinates"]) == ("12 Elm Road", "39.2904, -76.6122")
        assert facts["attributes"] == "SIZE: large · LANE: left"
        link = driver.find_element(By.CSS_SELECTOR, "#case-facts td[data-key='media_url'] a")
        assert link.get_attribute("href") == "https://img.example/hole.jpg"
        assert link.get_attribute("rel") == "noopener noreferrer"
        # text an older revision of the event contract accepted (docs/TRUST.md §1) shows its
        # control and bidi characters as code points: it cannot read "refund $100"
        cell = "return civicloop.cell(document.createElement('tr'), 'refund \\u202e001$\\u001b').textContent"
        assert driver.execute_script(cell) == "refund ⟨U+202E⟩001$⟨U+001B⟩"
        seen += requested(driver)

    assert any(url.endswith(f"/dashboard/static/plotly.min.js?v={version()}") for url in seen), seen
    assert sum("/dashboard/api/" in url for url in seen) >= 3 * 7
    assert outside(seen, dashboard) == []
    assert (ARTIFACTS / f"{backend}-department.png").stat().st_size > 10_000
    # and its JSON figures need the key, whoever asks (one deployment for both checks: the city's
    # projection costs more than either; they were two tests until issue 20)
    figures_need_the_key(dashboard, analyst_key)


def assert_map_shows_the_districts(driver: WebDriver) -> None:
    """The map's SVG has each district of the (default, demo city) boundaries as a filled
    path with its name, under the cases, and the map is framed on the service area."""
    drawn = driver.execute_script(
        """const map = document.getElementById("places");
        const traces = Array.from(map.querySelectorAll(".scatterlayer .trace"));
        return {
          fills: traces.filter((t) => t.querySelector("path.js-fill")).length,
          first_points: traces.findIndex((t) => t.querySelector("path.point")),
          last_fill: traces.map((t) => !!t.querySelector("path.js-fill")).lastIndexOf(true),
          names: Array.from(map.querySelectorAll(".scatterlayer .textpoint")).map((t) => t.textContent),
          x: map._fullLayout.xaxis.range, y: map._fullLayout.yaxis.range,
        };"""
    )
    city = geography.load()
    assert drawn["fills"] == len(city.districts) == 6
    assert sorted(drawn["names"]) == sorted(o.name for o in city.outlines())
    assert 0 <= drawn["last_fill"] < drawn["first_points"], "the cases are drawn on top of the districts"
    west, south, east, north = city.bounds
    (x0, x1), (y0, y1) = drawn["x"], drawn["y"]
    assert x0 < west < east < x1 and y0 < south < north < y1
    assert x1 - x0 < 1.1 * (east - west) and y1 - y0 < 1.1 * (north - south), "framed on the city"


def figures_need_the_key(dashboard: str, analyst_key: str) -> None:
    for headers in ({}, {"X-API-Key": "wrong"}):
        request = urllib.request.Request(f"{dashboard}/dashboard/api/headline", headers=headers)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code == 401
    good = urllib.request.Request(
        f"{dashboard}/dashboard/api/headline?from={FROM}&to={TO}", headers={"X-API-Key": analyst_key}
    )
    with urllib.request.urlopen(good, timeout=60) as response:
        assert json.loads(response.read())["tiles"][0]["key"] == "response_rate"


def busiest_case(events: list[Event]) -> tuple[str, list[Event]]:
    by_case: dict[str, list[Event]] = {}
    for event in events:
        by_case.setdefault(str(event["case_id"]), []).append(event)
    case_id = max(sorted(by_case), key=lambda c: len(by_case[c]))
    # the event log keeps whole seconds: order as it does
    ordered = sorted(
        by_case[case_id],
        key=lambda e: (
            e["occurred_at"].replace(microsecond=0),
            e["recorded_at"].replace(microsecond=0),
            e["event_id"],
        ),
    )
    return case_id, ordered


def version() -> str:
    from importlib.metadata import version as installed

    return installed("civicloop")
