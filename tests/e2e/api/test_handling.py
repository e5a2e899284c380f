"""Handling calls against the real server: an illegal transition is 409 with the guard's reason
and produces nothing; the same call repeated with the same Idempotency-Key is one event — in
Kafka and in ClickHouse — also after the API process restarts (the projected case has folded
it); and a dispatch retried that way keeps its task id."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from civicloop.schemas.codec import decode
from tests.support.api_site import Site, poll

pytestmark = pytest.mark.integration


def _report(http: httpx.Client, site: Site) -> str:
    form = {"api_key": site.key("intake"), "service_code": "PARKING", "address_string": "9 Market Street"}
    created = http.post("/open311/v2/requests.json", data=form)
    assert created.status_code == 200, created.text
    case_id = str(created.json()[0]["service_request_id"])
    _until_state(http, site, case_id, "REPORTED")
    return case_id


def _until_state(http: httpx.Client, site: Site, case_id: str, state: str) -> None:
    headers = {"X-API-Key": site.key("supervisor")}
    poll(
        lambda: http.get(f"/api/v1/cases/{case_id}", headers=headers).json().get("state"),
        lambda s: s == state,
        f"case {case_id} in {state}",
    )


def test_an_illegal_call_is_409_with_the_reason_and_produces_nothing(site: Site) -> None:
    headers = {"X-API-Key": site.key("supervisor")}
    with site.client() as http:
        case_id = _report(http, site)  # only reported: not registered, nothing dispatched
        before = sum(site.topic_ends().values())

        closed = http.post(f"/api/v1/cases/{case_id}/close", json={"reason": "resolved"}, headers=headers)
        accepted = http.post(f"/api/v1/cases/{case_id}/accept", json={"task_id": "T9"}, headers=headers)

        assert closed.status_code == 409 and closed.json()["reason"] == "illegal_transition"
        assert "CaseClosed" in closed.json()["errors"][0]["description"]
        assert "REPORTED" in closed.json()["errors"][0]["description"]
        assert accepted.status_code == 409 and accepted.json()["reason"] == "task_not_dispatched"
        assert "'T9'" in accepted.json()["errors"][0]["description"]
        # an unknown case is 404, a bad enum value 400 naming the field
        unknown = http.post("/api/v1/cases/no-such-case/register", json={}, headers=headers)
        assert unknown.status_code == 404 and unknown.json()["errors"][0]["field"] == "case_id"
        bad = http.post(f"/api/v1/cases/{case_id}/close", json={"reason": "bored"}, headers=headers)
        assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "reason"
        assert "'bored'" in bad.json()["errors"][0]["description"]
    assert sum(site.topic_ends().values()) == before


def test_the_same_idempotency_key_is_one_event(site: Site) -> None:
    dispatcher = site.key("dispatcher")
    retry = {"X-API-Key": dispatcher, "Idempotency-Key": f"reg-{datetime.now(UTC).timestamp()}"}
    with site.client() as http:
        case_id = _report(http, site)
        # when the same register call is sent twice at once, and once more after it was projected
        first = http.post(f"/api/v1/cases/{case_id}/register", json={}, headers=retry)
        again = http.post(f"/api/v1/cases/{case_id}/register", json={}, headers=retry)
        _until_state(http, site, case_id, "REGISTERED")
        after = http.post(f"/api/v1/cases/{case_id}/register", json={}, headers=retry)
        # then every answer is 202 with the same event id; the retries say they were duplicates
        assert [r.status_code for r in (first, again, after)] == [202, 202, 202]
        event_id = first.json()["event_id"]
        assert {r.json()["event_id"] for r in (again, after)} == {event_id}
        assert (first.json()["duplicate"], again.json()["duplicate"], after.json()["duplicate"]) == (
            False,
            True,
            True,
        )

        # and after a restart (nothing remembered in memory) the projected case answers the same
        site.restart_api()
        restarted = http.post(f"/api/v1/cases/{case_id}/register", json={}, headers=retry)
        assert restarted.status_code == 202 and restarted.json() == {**first.json(), "duplicate": True}

        # a dispatch retried with its own key keeps its task id
        dispatch = {"X-API-Key": dispatcher, "Idempotency-Key": f"disp-{case_id}"}
        one = http.post(f"/api/v1/cases/{case_id}/dispatch", json={}, headers=dispatch).json()
        two = http.post(f"/api/v1/cases/{case_id}/dispatch", json={}, headers=dispatch).json()
        assert (one["task_id"], one["event_id"]) == (two["task_id"], two["event_id"])
        # a different key is a different call: illegal now, since the case is registered
        other = http.post(
            f"/api/v1/cases/{case_id}/register", json={}, headers={**retry, "Idempotency-Key": "x"}
        )
        assert other.status_code == 409

    site.settle()
    # one message in Kafka and one row in the event log carry that event id
    in_kafka = [m for m in site.messages() if decode(m).event_id == event_id]
    assert len(in_kafka) == 1
    rows = site.query("SELECT count() FROM {db}.event_log WHERE event_id = %(id)s", {"id": event_id})
    assert rows == [(1,)]
    # and the case folded reported + registered + dispatched: version 3
    versions = site.query(
        "SELECT version FROM {db}.case_lifecycle FINAL WHERE case_id = %(id)s", {"id": case_id}
    )
    assert versions == [(3,)]


def test_an_idempotency_key_reused_for_another_request_is_422_in_every_process(
    site: Site, tmp_path: Path
) -> None:
    supervisor, intake = site.key("supervisor"), site.key("intake")
    run = datetime.now(UTC).timestamp()
    with site.client() as http:
        case_id = _report(http, site)
        register = {"X-API-Key": supervisor, "Idempotency-Key": f"reuse-{run}"}
        # given a call made with an Idempotency-Key
        first = http.post(f"/api/v1/cases/{case_id}/register", json={"priority": "high"}, headers=register)
        assert first.status_code == 202, first.text
        report = {"X-API-Key": intake, "Idempotency-Key": f"reuse-report-{run}"}
        form = {"service_code": "PARKING", "address_string": "9 Market Street"}
        filed = http.post("/open311/v2/requests.json", data=form, headers=report)
        assert filed.status_code == 200, filed.text
        before = sum(site.topic_ends().values())

        # when the same key comes with another body, to this process and to another one
        with site.another_api(tmp_path) as other_url, httpx.Client(base_url=other_url, timeout=60) as other:
            answers = [
                client.post(f"/api/v1/cases/{case_id}/register", json={"priority": "low"}, headers=register)
                for client in (http, other)
            ]
            reports = [
                client.post("/open311/v2/requests.json", data={**form, "description": "x"}, headers=report)
                for client in (http, other)
            ]
            # then each is refused, saying why, and nothing is produced
            for answer in answers:
                assert answer.status_code == 422, answer.text
                assert answer.json()["reason"] == "idempotency_key_reused"
                assert answer.json()["errors"][0]["field"] == "Idempotency-Key"
            for answer in reports:
                assert answer.status_code == 422, answer.text
                assert "already used for a different request" in answer.json()[0]["description"]
            assert sum(site.topic_ends().values()) == before
            # while the same request again is still the same call, in either process
            same = other.post(
                f"/api/v1/cases/{case_id}/register", json={"priority": "high"}, headers=register
            )
            assert same.status_code == 202 and same.json()["event_id"] == first.json()["event_id"]
            again = other.post("/open311/v2/requests.json", data=form, headers=report)
            assert again.status_code == 200 and again.json() == filed.json()


def test_reference_data_is_checked_before_anything_is_produced(site: Site) -> None:
    headers = {"X-API-Key": site.key("supervisor")}
    with site.client() as http:
        case_id = _report(http, site)
        register = http.post(f"/api/v1/cases/{case_id}/register", json={}, headers=headers)
        assert register.status_code == 202, register.text
        _until_state(http, site, case_id, "REGISTERED")
        before = sum(site.topic_ends().values())

        # a dispatch to a department the catalogue does not list is 422 naming it
        for department in ("x' OR '1'='1", "roadz"):
            refused = http.post(
                f"/api/v1/cases/{case_id}/dispatch", json={"department": department}, headers=headers
            )
            assert refused.status_code == 422, refused.text
            problem = refused.json()["errors"][0]
            assert (problem["field"], problem["code"]) == ("department", "unknown_department")
            assert repr(department) in problem["description"] and "transport" in problem["description"]

        # a void as the duplicate of a case that does not exist, or of itself, is 422 naming it
        for original in ("sr-no-such-case", case_id):
            void = {"reason": "duplicate", "duplicate_of": original}
            refused = http.post(f"/api/v1/cases/{case_id}/void", json=void, headers=headers)
            assert refused.status_code == 422, refused.text
            problem = refused.json()["errors"][0]
            assert (problem["field"], problem["code"]) == ("duplicate_of", "unknown_case")
            assert repr(original) in problem["description"]
        assert sum(site.topic_ends().values()) == before

        # while a listed department, and an existing original, are accepted
        other = _report(http, site)
        dispatched = http.post(
            f"/api/v1/cases/{case_id}/dispatch", json={"department": "traffic_police"}, headers=headers
        )
        assert dispatched.status_code == 202, dispatched.text
        void = {"reason": "duplicate", "duplicate_of": case_id}
        voided = http.post(f"/api/v1/cases/{other}/void", json=void, headers=headers)
        assert voided.status_code == 202, voided.text


@pytest.mark.parametrize("bad", ["\x00", "\x1b[2J", '"', "'", "\\", "\u202e"], ids=ascii)
def test_a_case_id_or_task_id_breaking_the_id_rule_is_400_and_produces_nothing(site: Site, bad: str) -> None:
    headers = {"X-API-Key": site.key("dispatcher")}
    with site.client() as http:
        case_id = _report(http, site)
        before = sum(site.topic_ends().values())
        # when the case id of the path, or a task id of the body, holds a refused character
        path = quote(f"{case_id}{bad}", safe="")
        by_path = http.post(f"/api/v1/cases/{path}/register", json={}, headers=headers)
        task = {"task_id": f"T{bad}1", "department": "traffic_police"}
        by_body = http.post(f"/api/v1/cases/{case_id}/dispatch", json=task, headers=headers)

        # then both are refused naming the field, and nothing is produced
        assert by_path.status_code == 400 and by_path.json()["errors"][0]["field"] == "case_id", by_path.text
        assert by_body.status_code == 400 and by_body.json()["errors"][0]["field"] == "task_id", by_body.text
    assert sum(site.topic_ends().values()) == before
