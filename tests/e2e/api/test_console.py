"""The console's reads against the real server, on both backends (issue 24): each role's
queues, and a department key seeing only its own tasks, their events and their actions; the
actions offered are exactly those the case allows the key now (an analyst: none); search by a
word of the description, by address and by id; keyset pages that add up to the CSV export;
and a poll that gets 304 until something new is projected."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.support.api_site import Site, poll

pytestmark = [
    pytest.mark.integration,
    pytest.mark.every_backend("the worklist's search and keyset pages are SQL that each backend runs"),
]


def _run() -> str:
    return datetime.now(UTC).strftime("%H%M%S%f")


def _report(
    http: httpx.Client, site: Site, description: str, address: str, at: tuple[float, float] | None = None
) -> str:
    form = {
        "api_key": site.key("intake"),
        "service_code": "PARKING",
        "address_string": address,
        "description": description,
    }
    if at is not None:  # in the test city's Baltimore district
        form |= {"lat": str(at[0]), "long": str(at[1])}
    created = http.post("/open311/v2/requests.json", data=form)
    assert created.status_code == 200, created.text
    case_id = str(created.json()[0]["service_request_id"])
    headers = {"X-API-Key": site.key("supervisor")}
    poll(
        lambda: http.get(f"/api/v1/cases/{case_id}", headers=headers).status_code, lambda s: s == 200, case_id
    )
    return case_id


def _act(http: httpx.Client, site: Site, role: str, case_id: str, action: str, body: dict[str, Any]) -> None:
    headers = {"X-API-Key": site.key(role), "Prefer": "wait=30"}
    done = http.post(f"/api/v1/cases/{case_id}/{action}", json=body, headers=headers)
    assert done.status_code == 200, (action, done.text)


def _get(http: httpx.Client, site: Site, role: str, path: str, **params: Any) -> Any:
    found = http.get(path, params=params, headers={"X-API-Key": site.key(role)})
    assert found.status_code == 200, (role, path, found.text)
    return found.json()


def _offered(http: httpx.Client, site: Site, role: str, case_id: str) -> set[tuple[str, str]]:
    work = _get(http, site, role, f"/api/v1/cases/{case_id}/actions")
    return {(a["action"], a.get("task_id") or a.get("role") or "") for a in work["actions"]}


def test_each_role_sees_its_queues_and_a_department_only_its_own_tasks(site: Site) -> None:
    run = _run()
    lead, assist = f"L{run}", f"A{run}"
    with site.client() as http:
        # given a case registered and dispatched to transport (lead) and parks (assist), and one
        # only reported
        # (at the same place, with a third one 100 m away and a fourth 1 km away: the waiting
        # report's duplicate suggestions are the first two, nearest first)
        here = (39.3, -76.6)
        case_id = _report(http, site, f"car on the pavement {run}", "3 Dock Street", here)
        waiting = _report(http, site, f"van on the kerb {run}", "4 Dock Street", here)
        near = _report(http, site, f"truck in the bay {run}", "5 Dock Street", (here[0] + 0.0009, here[1]))
        far = _report(http, site, f"bus on the corner {run}", "9 Dock Street", (here[0] + 0.009, here[1]))
        _act(http, site, "dispatcher", case_id, "register", {})
        _act(http, site, "dispatcher", case_id, "dispatch", {"department": "transport", "task_id": lead})
        _act(
            http,
            site,
            "dispatcher",
            case_id,
            "dispatch",
            {"department": "parks", "role": "assist", "task_id": assist},
        )

        # then each department's inbox holds its own task of the case, and not the other's
        for role, mine in (("department:transport", lead), ("department:parks", assist)):
            inbox = _get(http, site, role, "/api/v1/worklist", queue="to_accept", q=case_id)
            assert inbox["queues"] == ["to_accept", "in_progress", "due_soon", "task_overdue", "returned"]
            assert [(r["case_id"], r["task_id"]) for r in inbox["rows"]] == [(case_id, mine)]
            # the case shows its own task and that task's events only; never the contact of
            # a case it has no task on
            case = _get(http, site, role, f"/api/v1/cases/{case_id}")
            assert [t["task_id"] for t in case["tasks"]] == [mine]
            tasked = {e["task_id"] for e in case["timeline"] if e.get("task_id")}
            assert tasked == {mine}
            # the clock of its own task only: working time left to accept (some is left)
            clocks = _get(http, site, role, f"/api/v1/cases/{case_id}/actions")["clocks"]
            assert list(clocks) == [mine] and clocks[mine]["deadline"] == "accept_by"
            assert clocks[mine]["working_s_left"] > 0
            # its actions: exactly what a dispatched task allows, on its own task
            assert _offered(http, site, role, case_id) == {
                ("accept", mine),
                ("contact", mine),
                ("extend", mine),
                ("return", mine),
            }
        # a department sees nothing of a case it has no task on
        transport = {"X-API-Key": site.key("department:transport")}
        assert http.get(f"/api/v1/cases/{waiting}/actions", headers=transport).status_code == 404
        search = _get(http, site, "department:transport", "/api/v1/worklist", q=run)
        assert [r["case_id"] for r in search["rows"]] == [case_id]  # of the four with the word
        other = http.get("/api/v1/worklist", params={"department": "parks"}, headers=transport)
        assert other.status_code == 403

        # the dispatcher: the waiting report is in its queue; on the dispatched case it may add
        # an assist or close it; an analyst may read every queue but take no action
        queue = _get(http, site, "dispatcher", "/api/v1/worklist", queue="to_register", q=run, sort="age")
        assert sorted(r["case_id"] for r in queue["rows"]) == sorted([waiting, near, far])
        suggested = {r["case_id"]: [n["case_id"] for n in r["nearby"]] for r in queue["rows"]}
        assert suggested[waiting] == [case_id, near] and suggested[far] == []
        assert set(suggested[near]) == {case_id, waiting}
        assert _offered(http, site, "dispatcher", case_id) == {("dispatch", "assist"), ("close", "")}
        assert _offered(http, site, "dispatcher", waiting) == {("register", ""), ("void", "")}
        assert _offered(http, site, "analyst", case_id) == set()
        assert _get(http, site, "analyst", "/api/v1/worklist", queue="to_register", q=run)["rows"]
        refused = http.get(
            "/api/v1/worklist", params={"queue": "to_accept"}, headers={"X-API-Key": site.key("analyst")}
        )
        assert refused.status_code == 400 and "queue" in refused.json()["errors"][0]["description"]
        intake = http.get("/api/v1/worklist", headers={"X-API-Key": site.key("intake")})
        assert intake.status_code == 403

        # every queue of every role reads on this backend, by deadline and by age
        for role in ("dispatcher", "department:transport", "supervisor", "analyst"):
            for name in _get(http, site, role, "/api/v1/worklist", limit=1)["queues"]:
                for sort in ("deadline", "age"):
                    _get(http, site, role, "/api/v1/worklist", queue=name, sort=sort, q=run)

        # the supervisor, after transport disposed: the case awaits its check
        _act(http, site, "department:transport", case_id, "accept", {"task_id": lead})
        _act(http, site, "department:transport", case_id, "dispose", {"task_id": lead, "outcome": "fixed"})
        checks = _get(http, site, "supervisor", "/api/v1/worklist", queue="to_check", q=run)
        assert [r["case_id"] for r in checks["rows"]] == [case_id]
        offered = _offered(http, site, "supervisor", case_id)
        assert {("check", ""), ("close", ""), ("dispatch", "lead")} <= offered
        assert ("accept", assist) in offered and ("dispose", lead) not in offered


def test_search_by_word_address_and_id_pages_add_up_to_the_csv(site: Site) -> None:
    run = _run()
    with site.client() as http:
        # given five reports sharing a word, one with its own word and address
        cases = [_report(http, site, f"blocked drive {run} number {n}", f"{n} Mill Lane") for n in range(4)]
        odd = _report(http, site, f"blocked drive {run} Zebracrossing{run}", f"Quayside{run} 12")
        cases.append(odd)

        def found(**params: Any) -> list[str]:
            return [r["case_id"] for r in _get(http, site, "analyst", "/api/v1/worklist", **params)["rows"]]

        # then a word of the description, the address and the id each find that case
        assert found(q=f"zebracrossing{run}") == [odd]  # case-insensitive
        assert found(q=f"Quayside{run}") == [odd]
        assert found(q=odd) == [odd]
        assert sorted(found(q=run)) == sorted(cases)

        # and pages of two, sorted by age, add up to the CSV export of the same list
        rows: list[dict[str, Any]] = []
        after = None
        pages = 0
        while True:
            params: dict[str, Any] = {"q": run, "sort": "age", "limit": 2}
            if after:
                params["after"] = after
            answer = _get(http, site, "analyst", "/api/v1/worklist", **params)
            rows += answer["rows"]
            pages += 1
            after = answer["next"]
            if after is None:
                break
        assert pages == 3 and sorted(r["case_id"] for r in rows) == sorted(cases)
        exported = http.get(
            "/api/v1/worklist",
            params={"q": run, "sort": "age", "format": "csv"},
            headers={"X-API-Key": site.key("analyst")},
        )
        assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
        table = list(csv.DictReader(io.StringIO(exported.text)))
        assert [r["case_id"] for r in table] == [r["case_id"] for r in rows]
        assert [(r["state"], r["category"]) for r in table] == [(r["state"], r["category"]) for r in rows]

        # a poll with the list's ETag is 304 until something new is projected
        headers = {"X-API-Key": site.key("analyst")}
        answers = []
        for _ in range(3):  # a list changes with the minute too (deadlines): a turn asks again
            tag = http.get("/api/v1/worklist", params={"q": run}, headers=headers).headers["etag"]
            again = http.get("/api/v1/worklist", params={"q": run}, headers={**headers, "If-None-Match": tag})
            answers.append(again.status_code)
            if again.status_code == 304:
                break
        assert answers[-1] == 304, answers
        _act(http, site, "dispatcher", odd, "register", {})
        after_write = http.get(
            "/api/v1/worklist", params={"q": run}, headers={**headers, "If-None-Match": tag}
        )
        assert after_write.status_code == 200
        assert {r["case_id"]: r["state"] for r in after_write.json()["rows"]}[odd] == "REGISTERED"
