"""Who may do what, table-driven against the real server: each role can take exactly the
actions the issue gives it (202, or 200 for an Open311 report) and gets 403 for every other;
every role may read; a department acts only on its own department's tasks; and a refused call
produces nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from civicloop.schemas.event import Event
from civicloop.schemas.events import new_event
from civicloop.streams.producer import EventProducer
from tests.support.api_site import Site

pytestmark = pytest.mark.integration

ROLES = ("intake", "department:roads", "dispatcher", "supervisor", "analyst")
HANDLING = (
    "register",
    "void",
    "dispatch",
    "accept",
    "contact",
    "extend",
    "return",
    "dispose",
    "check",
    "close",
    "feedback",
    "reopen",
)
# The table, written out (not read from the code under test).
MAY: dict[str, set[str]] = {
    "intake": {"report"},
    "department:roads": {"accept", "contact", "extend", "return", "dispose"},
    "dispatcher": {"register", "void", "dispatch", "close", "reopen"},
    "supervisor": {*HANDLING, "report"},
    "analyst": set(),
}
# The events that bring a case to where each action is legal, and each action's body.
BEFORE: dict[str, tuple[str, ...]] = {
    "register": (),
    "void": (),
    "dispatch": ("registered",),
    "close": ("registered",),
    "accept": ("registered", "dispatched"),
    "contact": ("registered", "dispatched", "accepted"),
    "extend": ("registered", "dispatched", "accepted"),
    "return": ("registered", "dispatched", "accepted"),
    "dispose": ("registered", "dispatched", "accepted"),
    "check": ("registered", "dispatched", "accepted", "disposed"),
    "feedback": ("registered", "closed"),
    "reopen": ("registered", "closed"),
}
LATER = (datetime.now(UTC) + timedelta(days=30)).isoformat()
BODY: dict[str, dict[str, Any]] = {
    "register": {},
    "void": {"reason": "invalid"},
    "dispatch": {"department": "transport"},  # one of the packaged departments catalogue
    "accept": {"task_id": "T1"},
    "contact": {"task_id": "T1"},
    "extend": {"task_id": "T1", "new_dispose_by": LATER},
    "return": {"task_id": "T1", "reason": "wrong_area"},
    "dispose": {"task_id": "T1", "outcome": "fixed"},
    "check": {"passed": True},
    "close": {"reason": "resolved"},
    "feedback": {"resolved": True, "satisfaction": "satisfied"},
    "reopen": {"reason": "supervisor"},
}
REPORT = {"service_code": "NOISE", "address_string": "1 Bridge Street", "description": "drilling at night"}


def test_each_role_may_do_exactly_what_the_table_says(site: Site) -> None:
    run = datetime.now(UTC).strftime("%H%M%S%f")
    # given, for every (role, action) the role may take, a case where the action is legal
    cases = {
        (role, action): f"role-{run}-{i}-{action}"
        for i, role in enumerate(ROLES)
        for action in MAY[role] - {"report"}
    }
    _produce([e for (_, action), case in cases.items() for e in _history(case, BEFORE[action])], site)
    site.settle()
    any_case = next(iter(cases.values()))
    before = sum(site.topic_ends().values())
    allowed = 0

    with site.client() as http:
        for role in ROLES:
            key = {"X-API-Key": site.key(role)}
            for action in HANDLING:
                case = cases.get((role, action), any_case)
                response = http.post(f"/api/v1/cases/{case}/{action}", json=BODY[action], headers=key)
                # then what it may do is accepted, and everything else is forbidden
                expected = 202 if action in MAY[role] else 403
                assert response.status_code == expected, (role, action, response.text)
                allowed += expected == 202
                if expected == 403:
                    assert role.split(":")[0] in response.json()["errors"][0]["description"]
            report = http.post("/open311/v2/requests.json", data={**REPORT, "api_key": key["X-API-Key"]})
            assert report.status_code == (200 if "report" in MAY[role] else 403), (role, report.text)
            allowed += report.status_code == 200
            # and every role may read
            for path in (
                f"/api/v1/cases/{any_case}",
                "/api/v1/metrics",
                "/api/v1/backlog",
                "/api/v1/durations",
            ):
                assert http.get(path, headers=key).status_code == 200, (role, path)
            found = http.get(f"/open311/v2/requests/{any_case}.json", params={"api_key": key["X-API-Key"]})
            assert found.status_code == 200, (role, found.text)

    # and only the accepted calls produced events: one each
    assert sum(site.topic_ends().values()) - before == allowed == 5 + 5 + 13 + 1


def test_a_department_acts_only_on_its_own_tasks(site: Site) -> None:
    case = f"dept-{datetime.now(UTC).strftime('%H%M%S%f')}"
    _produce(_history(case, ("registered", "dispatched")), site)  # task T1 belongs to roads
    site.settle()
    before = sum(site.topic_ends().values())
    with site.client() as http:
        parks = {"X-API-Key": site.key("department:parks")}
        refused = http.post(f"/api/v1/cases/{case}/accept", json={"task_id": "T1"}, headers=parks)
        assert refused.status_code == 403
        assert "belongs to department 'roads'" in refused.json()["errors"][0]["description"]
        assert sum(site.topic_ends().values()) == before

        roads = {"X-API-Key": site.key("department:roads")}
        assert (
            http.post(f"/api/v1/cases/{case}/accept", json={"task_id": "T1"}, headers=roads).status_code
            == 202
        )


def test_no_or_a_revoked_key_is_401(site: Site) -> None:
    from civicloop.api.keys import ApiKeyStore

    store = ApiKeyStore(site.config.api_keys)
    try:
        key, token = store.create("supervisor", label="to revoke")
        store.revoke(key.key_id)
    finally:
        store.close()
    with site.client() as http:
        for headers in ({}, {"X-API-Key": token}, {"Authorization": "Bearer clk_wrong"}):
            response = http.post("/api/v1/cases/any/register", json={}, headers=headers)
            assert response.status_code == 401, headers
            assert response.json()["errors"][0]["field"] == "api_key"


def _history(case: str, steps: tuple[str, ...]) -> list[Event]:
    """``case`` reported, then ``steps``; a minute apart, ending a minute ago."""
    start = datetime.now(UTC) - timedelta(minutes=len(steps) + 2)
    builders: dict[str, Callable[[], dict[str, Any]]] = {
        "registered": lambda: {"category": "road.pothole", "priority": "normal"},
        "dispatched": lambda: {
            "task_id": "T1",
            "department": "roads",
            "role": "lead",
            "accept_by": start + timedelta(days=1),
            "dispose_by": start + timedelta(days=7),
        },
        "accepted": lambda: {"task_id": "T1"},
        "disposed": lambda: {"task_id": "T1", "outcome": "fixed"},
        "closed": lambda: {"reason": "resolved"},
    }
    types = {
        "registered": "CaseRegistered",
        "dispatched": "TaskDispatched",
        "accepted": "TaskAccepted",
        "disposed": "TaskDisposed",
        "closed": "CaseClosed",
    }
    envelope = {"case_id": case, "actor": {"type": "system", "id": "tests"}, "source": "tests/roles"}
    events = [
        new_event(
            "CaseReported",
            **envelope,
            occurred_at=start,
            channel="hotline",
            category="road.pothole",
            description="pothole",
            location={"address": "5 Canal Lane"},
            priority="normal",
            reporter_ref=None,
        )
    ]
    for i, step in enumerate(steps, 1):
        events.append(
            new_event(types[step], **envelope, occurred_at=start + timedelta(minutes=i), **builders[step]())
        )
    return events


def _produce(events: list[Event], site: Site) -> None:
    with EventProducer(site.config.kafka_bootstrap, site.config.events_topic) as producer:
        for event in events:
            producer.send(event)


# The dashboard (issue 11): analysts and above, and each department for its own department
# (issue 22); not intake apps. Written out here.
SEES_DASHBOARD = {
    "intake": False,
    "department:roads": True,  # its own department's figures (below)
    "dispatcher": True,
    "supervisor": True,
    "analyst": True,
}


@pytest.mark.parametrize("role", ROLES)
def test_the_dashboard_serves_its_figures_to_analysts_and_above(site: Site, role: str) -> None:
    # given a key of the role, when it asks the API for a dashboard figure
    with site.client() as client:
        answer = client.get("/dashboard/api/choices", headers={"X-API-Key": site.key(role)})
    # then analysts, dispatchers and supervisors get it, the others 403
    assert answer.status_code == (200 if SEES_DASHBOARD[role] else 403), answer.text


def test_a_department_key_sees_the_dashboard_of_its_own_department(site: Site) -> None:
    # given a case dispatched to roads and one only reported (no department), in the period
    run = datetime.now(UTC).strftime("%H%M%S%f")
    _produce([*_history(f"dash-{run}-1", ("registered", "dispatched")), *_history(f"dash-{run}-2", ())], site)
    site.settle()
    roads, analyst = {"X-API-Key": site.key("department:roads")}, {"X-API-Key": site.key("analyst")}
    end = datetime.now(UTC).replace(microsecond=0)  # a period that has ended: the same as_of each time
    period = {"from": (end - timedelta(days=1)).isoformat(), "to": end.isoformat()}
    with site.client() as client:

        def figures(path: str, headers: dict[str, str], **params: str) -> object:
            answer = client.get(f"/dashboard/api/{path}", params={**period, **params}, headers=headers)
            assert answer.status_code == 200, answer.text
            return answer.json()

        # when the roads key opens the dashboard, with or without naming its department
        for path in ("headline", "league", "backlog"):
            mine = figures(path, roads)
            # then it sees what an analyst sees filtered to roads, not the whole city
            assert (
                mine == figures(path, roads, department="roads") == figures(path, analyst, department="roads")
            )
            if path != "league":  # the league ranks departments: the whole city's also has roads
                assert mine != figures(path, analyst), path
        league = figures("league", roads)["rows"]  # type: ignore[index]
        assert [row["department"] for row in league] == ["roads"]
        assert figures("choices", roads)["department"] == ["roads"]  # type: ignore[index]
        # and another department's figures are refused
        other = client.get("/dashboard/api/headline", params={"department": "parks"}, headers=roads)
        assert other.status_code == 403 and "'roads'" in other.text
