"""The console in a real browser (issue 24): one report walked through the whole loop with
clicks only — registered, a duplicate voided against it (picked from the suggestions),
dispatched to a lead and an assist department; the lead accepts and disposes, the assist signs
for, the supervisor fails the check once, the lead disposes again, the supervisor passes and
closes (the lead's call to the reporter arrives through the API meanwhile: the open case page
shows it without a reload, the half-filled closing form kept); the supervisor records the
return visit with the reporter's stars and words (a comment the API refuses is refused in the
form itself, in the API's words); the timeline is complete. On the way: a hostile description
renders as text, an analyst sees no action, the page fits a phone's width, every control has a
label, the Chinese page is Chinese, and nothing is requested from anywhere but the server
(Chromium's network log). Real broker, worker and ``civicloop api`` on chDB; headless Debian
Chromium. The server backend runs the same reads in tests/e2e/api/test_console.py. Screenshots
go to build/artifacts/console/."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from civicloop import geography
from civicloop.api.keys import ApiKeyStore
from civicloop.config import Config
from civicloop.tools.local.api_server import api_process, api_url, start_api
from tests.conftest import REPO
from tests.support.browser import chromium, outside, requested
from tests.support.workers import Worker, deployment

# chDB only (an end-to-end test's first backend): the browser, the page's script and the walk are
# the same whatever the store; every read the page makes (worklist and its nearby suggestions, the
# case, its actions with their duplicate suggestions — the same nearby query —, the 304 polls,
# the CSV) is SQL that tests/e2e/api/test_console.py runs on each backend (docs/TESTING.md)
pytestmark = pytest.mark.integration

ARTIFACTS = REPO / "build" / "artifacts" / "console"
HOSTILE = (
    '<script>window.pwned = 1</script><img src="x" onerror="window.pwned = 2"> a car on the zebra crossing'
)
LEAD, ASSIST = "traffic_police", "parks"  # PARKING routes to traffic_police
ROLES = ("dispatcher", f"department:{LEAD}", f"department:{ASSIST}", "supervisor", "analyst", "intake")
#: every event of the walked case, in the order they happen
TIMELINE = [
    "CaseReported",
    "CaseRegistered",
    "TaskDispatched",
    "TaskDispatched",
    "TaskAccepted",
    "TaskDisposed",
    "TaskAccepted",
    "CaseChecked",
    "TaskDisposed",
    "CaseChecked",
    "CitizenContacted",
    "CaseClosed",
    "FeedbackReceived",
]
#: the reporter's words a supervisor types on a return visit (several lines)
WORDS = "the car is gone\nbut it came back twice"


@pytest.fixture
def console(
    tmp_path: Path, backend_url: str, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Config]]:
    config = deployment(
        tmp_path,
        monkeypatch,
        kafka_bootstrap=kafka_bootstrap,
        clickhouse_url=backend_url,
        watchdog_interval=0,
        signals_interval=0,
    )
    worker = Worker(config).start()
    try:
        start_api(config)
        try:
            yield api_url(config), config
        finally:
            api_process(config).stop(timeout=30)
    finally:
        worker.kill()  # teardown: stopping gracefully is test_shutdown's


def _keys(config: Config) -> dict[str, str]:
    store = ApiKeyStore(config.api_keys)
    try:
        return {role: store.create(role, label=f"console {role}")[1] for role in ROLES}
    finally:
        store.close()


def _report(http: httpx.Client, key: str, description: str, lat: float, lon: float) -> str:
    form = {
        "api_key": key,
        "service_code": "PARKING",
        "lat": str(lat),
        "long": str(lon),
        "address_string": "8 Harbour Road",
        "description": description,
    }
    created = http.post("/open311/v2/requests.json", data=form)
    assert created.status_code == 200, created.text
    return str(created.json()[0]["service_request_id"])


def _until(driver: WebDriver, what: str, done: Callable[[WebDriver], Any], timeout: float = 90) -> Any:
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.2).until(done)
    except TimeoutException:
        body = driver.find_element(By.TAG_NAME, "body")
        raise AssertionError(
            f"waited for {what}: page {body.get_attribute('data-state')!r}, error "
            f"{driver.find_element(By.ID, 'error').text!r}, result "
            f"{(driver.find_elements(By.ID, 'action-result') or [body])[0].text[:300]!r}"
        ) from None


def _sign_in(driver: WebDriver, key: str) -> None:
    _until(driver, "the key dialog", lambda d: d.find_element(By.ID, "key-dialog").is_displayed())
    driver.find_element(By.ID, "api-key").send_keys(key)
    driver.find_element(By.ID, "key-submit").click()


def _as(driver: WebDriver, key: str) -> None:
    """Sign out (a click) and sign in with ``key``."""
    driver.find_element(By.ID, "sign-out").click()
    _sign_in(driver, key)


def _queue(driver: WebDriver, name: str, case_id: str, shot: str | None = None) -> None:
    """Open the queue ``name`` (a click on its tab) and the case from it (a click on its link);
    a screenshot of the queue first when ``shot`` names one."""
    driver.find_element(By.ID, "nav-queues").click()
    _until(driver, f"tab {name}", lambda d: d.find_elements(By.ID, f"queue-{name}"))
    driver.find_element(By.ID, f"queue-{name}").click()
    link = f"#list tr[data-case-id='{case_id}'] a"
    _until(driver, f"{case_id} in {name}", lambda d: d.find_elements(By.CSS_SELECTOR, link))
    if shot is not None:
        _shot(driver, shot)
    _click(driver, link)
    _until(
        driver,
        "the case page",
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "ready",
    )


def _click(driver: WebDriver, css: str) -> None:
    """Click what ``css`` finds, again if the list was redrawn under the pointer (a poll)."""

    def clicked(d: WebDriver) -> bool:
        try:
            d.find_element(By.CSS_SELECTOR, css).click()
        except (NoSuchElementException, StaleElementReferenceException):
            return False
        return True

    _until(driver, f"a click on {css}", clicked)


def _act(driver: WebDriver, button: str, fill: Callable[[], None] | None = None) -> None:
    """Open an action's form by its button id (``do-…``), fill it, submit it, and wait until the
    page has redrawn the case after it."""
    _until(driver, button, lambda d: d.find_elements(By.ID, f"do-{button}"))
    events = driver.find_element(By.TAG_NAME, "body").get_attribute("data-events")
    _click(driver, f"[id='do-{button}']")
    if fill is not None:
        fill()
    driver.find_element(By.ID, f"submit-{button}").click()
    _until(
        driver,
        f"{button} done",
        lambda d: (
            d.find_element(By.TAG_NAME, "body").get_attribute("data-events") != events
            and "ok" in (d.find_element(By.ID, "action-result").get_attribute("class") or "")
        ),
    )


def _choose(driver: WebDriver, select: str, value: str) -> None:
    Select(driver.find_element(By.ID, select)).select_by_value(value)


def _task_button(driver: WebDriver, action: str) -> str:
    """The id (without ``do-``) of the one button of a task action on the page."""
    found = _until(driver, action, lambda d: d.find_elements(By.CSS_SELECTOR, f"[id^='do-{action}-']"))
    assert len(found) == 1, [b.get_attribute("id") for b in found]
    return str(found[0].get_attribute("id")).removeprefix("do-")


def _shot(driver: WebDriver, name: str, width: int = 1280) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.set_window_size(width, 900)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, max(int(height) + 20, 700))
    driver.save_screenshot(str(ARTIFACTS / f"console-{name}.png"))
    driver.set_window_size(1400, 1000)


def _return_visit(driver: WebDriver) -> None:
    """The feedback form with a rating and a comment: a comment the API refuses (a bidi override,
    set by script — no keyboard types one) is refused in the form itself, with the API's words;
    then the supervisor's typed comment and rating reach the case's timeline."""
    _until(driver, "the feedback form", lambda d: d.find_elements(By.ID, "do-feedback"))
    _click(driver, "[id='do-feedback']")
    _choose(driver, "feedback-satisfaction", "basically_satisfied")
    _choose(driver, "feedback-rating", "4")
    comment = driver.find_element(By.ID, "feedback-comment")
    driver.execute_script("arguments[0].value = 'refund \\u202e001$'", comment)
    events = driver.find_element(By.TAG_NAME, "body").get_attribute("data-events")
    driver.find_element(By.ID, "submit-feedback").click()
    refused = driver.find_element(By.ID, "refused-feedback")
    _until(driver, "the refusal in the form", lambda d: refused.is_displayed())
    assert "comment" in refused.text and "U+202E" in refused.text, refused.text
    status = driver.find_element(By.ID, "action-result")  # the refusal is said once, in the form
    assert "error" in (status.get_attribute("class") or "") and "U+202E" not in status.text, status.text
    assert driver.find_element(By.TAG_NAME, "body").get_attribute("data-events") == events
    _shot(driver, "feedback-refused-en")
    comment.clear()
    comment.send_keys(WORDS)
    driver.find_element(By.ID, "submit-feedback").click()
    _until(
        driver,
        "the return visit on the case",
        lambda d: (
            d.find_element(By.TAG_NAME, "body").get_attribute("data-events") != events
            and "ok" in (d.find_element(By.ID, "action-result").get_attribute("class") or "")
        ),
    )
    shown = driver.find_elements(By.CSS_SELECTOR, "#timeline li[data-type='FeedbackReceived'] .details")
    assert len(shown) == 1, [s.text for s in shown]
    details = shown[0].text
    assert "rating: 4" in details and "basically_satisfied" in details, details
    assert "the car is gone" in details and "but it came back twice" in details, details


def _unlabelled(driver: WebDriver) -> list[str]:
    script = """
      return Array.from(document.querySelectorAll('input, select, textarea, button'))
        .filter((e) => e.offsetParent !== null && !e.labels?.length && !e.textContent.trim()
                       && !e.getAttribute('aria-label'))
        .map((e) => e.id || e.outerHTML.slice(0, 60));"""
    return list(driver.execute_script(script))


def test_a_report_walks_the_whole_loop_with_clicks_only(console: tuple[str, Config]) -> None:
    url, config = console
    keys = _keys(config)
    lon, lat = geography.configured().outlines()[0].label
    with httpx.Client(base_url=url, timeout=60) as http, chromium() as driver:
        # given a hostile report and a second one at the same place (its duplicate)
        case_id = _report(http, keys["intake"], HOSTILE, lat, lon)
        double = _report(http, keys["intake"], "the same car again", lat, lon)
        _report(http, keys["intake"], "a lorry across two bays", lat + 0.01, lon + 0.01)  # left waiting

        # the dispatcher's queue: both reports, each with the other as a possible duplicate
        driver.get(f"{url}/console?lang=en")
        _sign_in(driver, keys["dispatcher"])
        row = f"#list tr[data-case-id='{double}'] td.dups a"
        _until(driver, "duplicate suggestions", lambda d: d.find_elements(By.CSS_SELECTOR, row))
        assert case_id in driver.find_element(By.CSS_SELECTOR, row).text
        _shot(driver, "dispatcher-queue-en")

        # the duplicate is voided against the original, picked from the suggestions
        _queue(driver, "to_register", double)

        def duplicate() -> None:
            _choose(driver, "void-reason", "duplicate")
            _choose(driver, "void-duplicate_of", case_id)

        _act(driver, "void", duplicate)
        assert driver.find_element(By.TAG_NAME, "body").get_attribute("data-case-state") == "VOIDED"

        # the original: a hostile description is text, and nothing of it ran
        _queue(driver, "to_register", case_id)
        assert driver.find_element(By.CSS_SELECTOR, "#report dd[data-key='description']").text == HOSTILE
        assert driver.execute_script("return window.pwned === undefined")
        assert driver.find_elements(By.CSS_SELECTOR, "#report img") == []
        # text an older revision of the event contract accepted (docs/TRUST.md §1) shows its
        # control and bidi characters as code points: it cannot read "refund $100"
        text = driver.execute_script("return el('dd', 'refund \\u202e001$\\u0000').textContent")
        assert text == "refund ⟨U+202E⟩001$⟨U+0000⟩"
        # registered, then dispatched to a lead and an assist, with the deadlines shown
        _act(driver, "register")
        _act(driver, "dispatch-lead", lambda: _choose(driver, "dispatch-lead-department", LEAD))

        def assist() -> None:
            _choose(driver, "dispatch-assist-department", ASSIST)
            _shot(driver, "dispatcher-case-en")  # the form: departments, the deadlines that apply

        _act(driver, "dispatch-assist", assist)
        assert len(driver.find_elements(By.CSS_SELECTOR, "#tasks tbody tr")) == 2

        # the lead department accepts and disposes; its queue held the task
        _as(driver, keys[f"department:{LEAD}"])
        _queue(driver, "to_accept", case_id, shot="department-queue-en")
        _shot(driver, "department-case-en")
        assert len(driver.find_elements(By.CSS_SELECTOR, "#tasks tbody tr")) == 1  # its own task only
        _act(driver, _task_button(driver, "accept"))
        dispose = _task_button(driver, "dispose")
        _act(driver, dispose, lambda: driver.find_element(By.ID, f"{dispose}-note").send_keys("car towed"))

        # the assist signs for its task
        _as(driver, keys[f"department:{ASSIST}"])
        _queue(driver, "to_accept", case_id)
        _act(driver, _task_button(driver, "accept"))

        # the supervisor fails the check once
        _as(driver, keys["supervisor"])
        _queue(driver, "to_check", case_id, shot="supervisor-queue-en")

        def fail() -> None:
            _choose(driver, "check-passed", "false")
            driver.find_element(By.ID, "check-note").send_keys("still parked there")

        _act(driver, "check", fail)
        assert driver.find_element(By.TAG_NAME, "body").get_attribute("data-case-state") == "IN_PROGRESS"

        # the lead disposes again, from its in-progress queue
        _as(driver, keys[f"department:{LEAD}"])
        driver.find_element(By.ID, "nav-queues").click()
        _until(driver, "the in-progress tab", lambda d: d.find_elements(By.ID, "queue-in_progress"))
        driver.find_element(By.ID, "queue-in_progress").click()
        _until(
            driver, "rows", lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-rows") == "1"
        )
        _click(driver, f"#list tr[data-case-id='{case_id}'] a")
        _until(
            driver,
            "the case",
            lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "ready",
        )
        _act(driver, _task_button(driver, "dispose"))

        # the supervisor passes the check; while they fill in the closing form, the lead
        # department tells the API it called the reporter: the open page shows it, unreloaded,
        # and the half-filled form stays as it was
        _as(driver, keys["supervisor"])
        _queue(driver, "to_check", case_id)
        _act(driver, "check")
        marker = driver.execute_script("window.stayed = true; return 1")
        driver.find_element(By.ID, "do-close").click()
        _choose(driver, "close-reason", "other")
        found = http.get(f"/api/v1/cases/{case_id}", headers={"X-API-Key": keys["supervisor"]}).json()
        lead = next(task["task_id"] for task in found["tasks"] if task["role"] == "lead")
        contacted = http.post(
            f"/api/v1/cases/{case_id}/contact",
            json={"task_id": lead},
            headers={"X-API-Key": keys[f"department:{LEAD}"], "Prefer": "wait=30"},
        )
        assert contacted.status_code == 200, contacted.text
        shown = "#timeline li[data-type='CitizenContacted']"
        _until(driver, "the call on the open page", lambda d: d.find_elements(By.CSS_SELECTOR, shown), 60)
        assert marker == 1 and driver.execute_script("return window.stayed === true")  # no reload
        assert Select(driver.find_element(By.ID, "close-reason")).first_selected_option.text == "other"
        assert driver.find_element(By.ID, "close-reason").is_displayed()
        _choose(driver, "close-reason", "resolved")
        driver.find_element(By.ID, "submit-close").click()
        _until(
            driver,
            "the case closed",
            lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-case-state") == "CLOSED",
        )

        # the supervisor records a return visit (回访) with the reporter's stars and words
        _return_visit(driver)
        timeline = [
            li.get_attribute("data-type") for li in driver.find_elements(By.CSS_SELECTOR, "#timeline li")
        ]
        # (events of one second keep no order of their own in the log: compared as a multiset)
        assert sorted(timeline) == sorted(TIMELINE) and timeline[0] == "CaseReported", timeline
        _shot(driver, "case-en")
        assert _unlabelled(driver) == []

        # an analyst reads the case but is offered no action
        _as(driver, keys["analyst"])
        _until(
            driver,
            "the case",
            lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "ready",
        )
        assert driver.find_elements(By.CSS_SELECTOR, "#actions button") == []
        assert driver.find_element(By.ID, "no-actions").is_displayed()

        # and finds it by a word of its description
        driver.find_element(By.ID, "nav-search").click()
        driver.find_element(By.ID, "f-q").send_keys("ZEBRA")
        driver.find_element(By.ID, "find").click()
        found = f"#list tr[data-case-id='{case_id}']"
        _until(
            driver,
            "the search",
            lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-rows") == "1",
        )
        assert driver.find_elements(By.CSS_SELECTOR, found)
        _shot(driver, "search-en")
        _click(driver, f"{found} a")

        # the supervisor's queue, and the case in Chinese (the switch is a link)
        _as(driver, keys["supervisor"])
        _until(
            driver,
            "the case",
            lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "ready",
        )
        driver.find_element(By.ID, "lang-zh-CN").click()
        _until(
            driver,
            "the Chinese page",
            lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "ready",
        )
        assert driver.find_element(By.ID, "h-timeline").text == "时间线"
        assert driver.find_element(By.ID, "case-state").text == "已结案"
        _shot(driver, "case-zh")
        # at a phone's width the page needs no sideways scrolling
        driver.set_window_size(390, 900)
        assert driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
        _shot(driver, "case-phone-zh", width=390)
        driver.find_element(By.ID, "nav-queues").click()
        _until(
            driver,
            "the queue",
            lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "ready",
        )
        _until(
            driver,
            "the waiting report",
            lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-rows") == "1",
        )
        _shot(driver, "supervisor-queue-zh")
        driver.find_element(By.ID, "lang-en").click()
        _until(
            driver, "the English page", lambda d: d.find_element(By.ID, "nav-queues").text == "Work queues"
        )

        # and nothing was requested from anywhere but the server
        assert outside(requested(driver), url) == []
