"""Read-your-writes against the real server, with one and with two API processes behind the
port: 100 cases driven concurrently through the whole lifecycle, each call made the moment the
one before answered (no sleeps). With ``Prefer: wait=5`` every call is 200 with the case's
state after it; without, every call is 202 and its status URL ends ``projected``. A call that
the case no longer allows is 409 with the reason, and nothing answered 200 is ever
dead-lettered. Before read-your-writes, the ``dispatch`` right after ``register`` was 409
(``illegal_transition … REPORTED``) and a ``dispose`` right after ``close`` was 202, then
dead-lettered by the worker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from civicloop.schemas.events import new_event
from civicloop.streams.producer import EventProducer
from tests.support.api_site import Site, poll

pytestmark = pytest.mark.integration
CASES = 100
WAIT = {"Prefer": "wait=5"}
#: each step: action, body, the state the case is in after it
STEPS: list[tuple[str, dict[str, Any], str]] = [
    ("register", {}, "REGISTERED"),
    ("dispatch", {"role": "lead", "task_id": "lead"}, "DISPATCHED"),
    ("dispatch", {"role": "assist", "department": "transport", "task_id": "assist"}, "DISPATCHED"),
    ("accept", {"task_id": "lead"}, "IN_PROGRESS"),
    ("dispose", {"task_id": "lead", "outcome": "fixed"}, "DISPOSED"),
    ("check", {"passed": True}, "CHECKED"),
    ("close", {"reason": "resolved"}, "CLOSED"),
]


@pytest.fixture(scope="module", params=[2, 1], ids=["2-processes", "1-process"])
def processes(request: pytest.FixtureRequest, site: Site) -> Iterator[int]:
    wanted: int = request.param
    if site.config.api_workers != wanted:
        site.restart_api(workers=wanted)
    yield wanted
    if site.config.api_workers != 2:  # as the other API tests expect it
        site.restart_api(workers=2)


@pytest.mark.every_backend("up-to-date reads are each backend's own")
@pytest.mark.parametrize("processes", [2], ids=["2-processes"], indirect=True)  # see below
def test_with_prefer_wait_every_call_answers_the_state_after_it(site: Site, processes: int) -> None:
    answers = asyncio.run(_drive(site, CASES, WAIT))
    for case_id, steps in answers.items():
        for (action, _, state), answer in zip(STEPS, steps, strict=True):
            assert answer.status_code == 200, (case_id, action, answer.text)
            assert answer.headers["Preference-Applied"] == "wait"
            body = answer.json()
            assert body["status"] == "projected" and body["case"]["state"] == state, (case_id, action, body)
        # the assist task is there beside the lead, both as the calls left them
        assert steps[-1].json()["case"]["tasks"] == {
            "lead": {"department": "traffic_police", "role": "lead", "status": "disposed"},
            "assist": {"department": "transport", "role": "assist", "status": "closed"},
        }
    answered_200 = [a.json()["event_id"] for steps in answers.values() for a in steps]
    assert _dead_lettered(site, answered_200) == []


# The hundred cases' calls run on two API processes only: each call and each status read is then
# answered by either process, the one that produced the case's last event or the other, hundreds
# of times each, so one process is a case within it (the smaller tests below run on both).
@pytest.mark.parametrize("processes", [2], ids=["2-processes"], indirect=True)
def test_without_wait_every_call_is_202_and_its_status_ends_projected(site: Site, processes: int) -> None:
    answers = asyncio.run(_drive(site, CASES, {}))
    urls = []
    for case_id, steps in answers.items():
        for (action, _, _), answer in zip(STEPS, steps, strict=True):
            assert answer.status_code == 202, (case_id, action, answer.text)
            assert "Preference-Applied" not in answer.headers
            assert answer.headers["Location"] == answer.json()["status_url"]
            urls.append(answer.json()["status_url"])
    site.settle()  # once every event is projected, each status is read once, not polled by 700 readers
    finals = asyncio.run(_statuses(site, urls))
    assert [body["status"] for body in finals] == ["projected"] * len(urls), finals
    closed = finals[-1]
    assert closed["type"] == "CaseClosed" and closed["case"]["state"] == "CLOSED"


async def _statuses(site: Site, urls: list[str]) -> list[dict[str, Any]]:
    """Each status URL read until it is no longer pending, twenty at a time."""
    headers = {"X-API-Key": site.key("analyst")}
    slots = asyncio.Semaphore(20)
    # no pool timeout: 700 reads share twenty slots on a busy machine
    async with httpx.AsyncClient(base_url=site.url, timeout=httpx.Timeout(60, pool=None)) as http:

        async def final(url: str) -> dict[str, Any]:
            deadline = time.monotonic() + 90
            while True:
                async with slots:
                    body: dict[str, Any] = (await http.get(url, headers=headers)).json()
                if body.get("status") != "pending" or time.monotonic() > deadline:
                    return body
                await asyncio.sleep(0.3)

        return list(await asyncio.gather(*(final(url) for url in urls)))


def test_a_call_the_case_no_longer_allows_is_409_with_the_reason(site: Site, processes: int) -> None:
    supervisor = {"X-API-Key": site.key("supervisor"), **WAIT}
    with site.client() as http:
        case_id = _report(http, site)
        for action, body in (
            ("register", {}),
            ("dispatch", {"task_id": "T1"}),
            ("close", {"reason": "other"}),
        ):
            done = http.post(f"/api/v1/cases/{case_id}/{action}", json=body, headers=supervisor)
            assert done.status_code == 200, done.text
        before = sum(site.topic_ends().values())
        late = http.post(
            f"/api/v1/cases/{case_id}/dispose", json={"task_id": "T1", "outcome": "fixed"}, headers=supervisor
        )
        assert late.status_code == 409 and late.json()["reason"] == "task_closed", late.text
        assert "CLOSED" in late.json()["errors"][0]["description"]
        assert sum(site.topic_ends().values()) == before  # refused before producing

        # a wait of 0 s cannot see the outcome: the answer is 202, as without the header
        reopened = http.post(
            f"/api/v1/cases/{case_id}/reopen",
            json={"reason": "supervisor"},
            headers={**supervisor, "Prefer": "wait=0"},
        )
        assert reopened.status_code == 202 and "Preference-Applied" not in reopened.headers


def test_racing_calls_one_wins_and_the_loser_is_409_never_200(site: Site, processes: int) -> None:
    """Two lead dispatches of one case sent at once (possibly to two processes): both may pass
    the API's guard before either is projected; the worker then dead-letters one, and the wait
    answers that one 409 with the worker's reason."""

    async def race() -> list[tuple[httpx.Response, httpx.Response]]:
        async with httpx.AsyncClient(base_url=site.url, timeout=60) as http:
            case_ids = await asyncio.gather(*(_report_async(http, site) for _ in range(20)))
            headers = {"X-API-Key": site.key("supervisor"), **WAIT}
            await asyncio.gather(
                *(http.post(f"/api/v1/cases/{c}/register", json={}, headers=headers) for c in case_ids)
            )
            pairs = await asyncio.gather(
                *(
                    asyncio.gather(
                        http.post(f"/api/v1/cases/{c}/dispatch", json={"task_id": "A"}, headers=headers),
                        http.post(f"/api/v1/cases/{c}/dispatch", json={"task_id": "B"}, headers=headers),
                    )
                    for c in case_ids
                )
            )
            return [(a, b) for a, b in pairs]

    winners = []
    for first, second in asyncio.run(race()):
        codes = sorted([first.status_code, second.status_code])
        assert codes == [200, 409], (first.text, second.text)
        loser = second if second.status_code == 409 else first
        assert loser.json()["reason"] in ("lead_task_active", "illegal_transition"), loser.text
        winners.append((first if loser is second else second).json()["event_id"])
    assert _dead_lettered(site, winners) == []


def test_the_status_of_an_event_the_worker_refused_is_dead_lettered(site: Site) -> None:
    """An event produced by another producer than this API (here the SDK), illegal for its
    case: its status says so, with the worker's reason; an unknown id of a projected case is 404."""
    analyst = {"X-API-Key": site.key("analyst")}
    with site.client() as http:
        case_id = _report(http, site)
        event = new_event(
            "TaskAccepted",
            case_id=case_id,
            actor={"type": "department", "id": "roads"},
            source="tests",
            occurred_at=datetime.now(UTC),
            task_id="never-dispatched",
        )
        with EventProducer(site.config.kafka_bootstrap, site.config.events_topic) as producer:
            producer.send_sync(event)
        url = f"/api/v1/events/{event.event_id}?case_id={case_id}"
        final = poll(
            lambda: http.get(url, headers=analyst).json(),
            lambda body: body.get("status") != "pending",
            "the refused event's status",
        )
        assert final["status"] == "dead_lettered" and final["reason"] == "task_not_dispatched", final
        assert "never-dispatched" in final["detail"]
        # the same without the case (every partition looked at)
        anywhere = http.get(f"/api/v1/events/{event.event_id}", headers=analyst).json()
        assert anywhere["status"] == "dead_lettered" and anywhere["case_id"] == case_id
        unknown = http.get(f"/api/v1/events/no-such-event?case_id={case_id}", headers=analyst)
        assert unknown.status_code == 404 and unknown.json()["errors"][0]["field"] == "event_id"
        bad = http.get(f"/api/v1/events/{event.event_id}?case_id=a%20b", headers=analyst)
        assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "case_id"
        assert http.get(url).status_code == 401  # a read like any other: a key is needed


async def _drive(site: Site, cases: int, prefer: dict[str, str]) -> dict[str, list[httpx.Response]]:
    """Every case through STEPS at once, each call sent as soon as the one before answered."""
    headers = {"X-API-Key": site.key("supervisor"), **prefer}
    limits = httpx.Limits(max_connections=cases + 10)
    async with httpx.AsyncClient(base_url=site.url, timeout=60, limits=limits) as http:

        async def one_case() -> tuple[str, list[httpx.Response]]:
            case_id = await _report_async(http, site)
            answers = []
            for action, body, _ in STEPS:
                answers.append(
                    await http.post(f"/api/v1/cases/{case_id}/{action}", json=body, headers=headers)
                )
            return case_id, answers

        return dict(await asyncio.gather(*(one_case() for _ in range(cases))))


async def _report_async(http: httpx.AsyncClient, site: Site) -> str:
    form = {"api_key": site.key("intake"), "service_code": "PARKING", "address_string": "9 Market Street"}
    created = await http.post("/open311/v2/requests.json", data=form)
    assert created.status_code == 200, created.text
    return str(created.json()[0]["service_request_id"])


def _report(http: httpx.Client, site: Site) -> str:
    form = {"api_key": site.key("intake"), "service_code": "PARKING", "address_string": "9 Market Street"}
    created = http.post("/open311/v2/requests.json", data=form)
    assert created.status_code == 200, created.text
    return str(created.json()[0]["service_request_id"])


def _dead_lettered(site: Site, event_ids: list[str]) -> list[Any]:
    """Dead letters among ``event_ids``, read straight from the store once all is projected."""
    site.settle()
    return site.query(
        "SELECT event_id, reason FROM {db}.dead_letters WHERE event_id IN %(ids)s", {"ids": event_ids}
    )
