"""Every read endpoint of the API — Open311 GeoReport v2 and /api/v1 — on the 2×2 cluster.

The API reads the Distributed tables through the entry node with the cluster's settings
(``projections/backend.py``, docs/CLUSTER.md); without them a Distributed ``FINAL`` read came
back empty. One deployment on the cluster (broker, worker, ``civicloop api``), two reports: one
registered, dispatched and closed, one left waiting for its department. Each endpoint must show
them as they are."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from civicloop.tools.local.clickhouse_cluster import LocalCluster
from tests.conftest import make_config
from tests.support.api_site import Site, poll
from tests.support.geo import write_test_city
from tests.support.workers import Worker

pytestmark = pytest.mark.integration
V2 = "/open311/v2"


@pytest.fixture(scope="module")
def cluster_site(
    tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str, clickhouse_cluster: LocalCluster
) -> Iterator[Site]:
    layout = clickhouse_cluster.layout()
    assert layout is not None
    home = tmp_path_factory.mktemp("api-cluster")
    config = make_config(
        home,
        kafka_bootstrap=kafka_bootstrap,
        clickhouse_url=layout.entry.url,
        clickhouse_cluster=layout.name,
        watchdog_interval=0,  # no escalations beside the calls below
        api_workers=1,
        boundaries=write_test_city(home / "boundaries.geojson"),
    )
    running = Site(config, Worker(config)).start()
    yield running
    running.stop()


def _report(http: httpx.Client, site: Site, address: str) -> str:
    form = {"api_key": site.key("intake"), "service_code": "PARKING", "address_string": address}
    created = http.post(f"{V2}/requests.json", data=form)
    assert created.status_code == 200, created.text
    return str(created.json()[0]["service_request_id"])


def _act(http: httpx.Client, site: Site, role: str, case_id: str, action: str, body: dict[str, Any]) -> Any:
    headers = {"X-API-Key": site.key(role), "Prefer": "wait=60"}
    done = http.post(f"/api/v1/cases/{case_id}/{action}", json=body, headers=headers)
    assert done.status_code == 200, (action, done.text)
    return done.json()


def _get(http: httpx.Client, path: str, key: str | None = None, **params: Any) -> Any:
    headers = {"X-API-Key": key} if key else {}
    found = http.get(path, params=params, headers=headers)
    assert found.status_code == 200, (path, found.text)
    return found.json()


def test_every_read_endpoint_answers_from_the_cluster(cluster_site: Site) -> None:
    site = cluster_site  # not `site`: conftest gives that name its backends
    intake, analyst = site.key("intake"), site.key("analyst")
    with site.client() as http:
        closed, waiting = _report(http, site, "9 Market Street"), _report(http, site, "3 Dock Street")
        for case_id in (closed, waiting):
            poll(
                lambda c=case_id: http.get(f"/api/v1/cases/{c}", headers={"X-API-Key": analyst}).status_code,
                lambda status: status == 200,
                f"case {case_id} projected",
            )
            _act(http, site, "dispatcher", case_id, "register", {})
        _act(http, site, "dispatcher", closed, "dispatch", {"department": "transport", "task_id": "L1"})
        _act(http, site, "supervisor", closed, "close", {"reason": "resolved"})
        dispatched = _act(
            http, site, "dispatcher", waiting, "dispatch", {"department": "transport", "task_id": "W1"}
        )

        # Open311 GeoReport v2
        assert _get(http, f"{V2}/discovery.json")["endpoints"]
        assert "PARKING" in {s["service_code"] for s in _get(http, f"{V2}/services.json")}
        assert _get(http, f"{V2}/services/PARKING.json")["service_code"] == "PARKING"
        listed = {r["service_request_id"]: r["status"] for r in _get(http, f"{V2}/requests.json")}
        assert listed == {closed: "closed", waiting: "open"}
        (one,) = _get(http, f"{V2}/requests/{closed}.json")
        assert (one["status"], one["agency_responsible"]) == ("closed", "transport")
        assert _get(http, f"{V2}/tokens/{closed}.json", api_key=intake) == [
            {"service_request_id": closed, "token": closed}
        ]

        # the handling API's reads
        assert _get(http, f"/api/v1/cases/{closed}", analyst)["state"] == "CLOSED"
        case = _get(http, f"/api/v1/cases/{waiting}", analyst)
        assert case["state"] == "DISPATCHED" and [t["task_id"] for t in case["tasks"]] == ["W1"]
        transport = site.key("department:transport")
        actions = _get(http, f"/api/v1/cases/{waiting}/actions", transport)["actions"]
        assert {(a["action"], a.get("task_id")) for a in actions} >= {("accept", "W1"), ("return", "W1")}
        inbox = _get(http, "/api/v1/worklist", transport, queue="to_accept")
        assert [(r["case_id"], r["task_id"]) for r in inbox["rows"]] == [(waiting, "W1")]
        status = _get(http, f"/api/v1/events/{dispatched['event_id']}", analyst, case_id=waiting)
        assert status["status"] == "projected", status
        metrics = _get(http, "/api/v1/metrics", analyst, by="department")
        durations = _get(http, "/api/v1/durations", analyst, by="department")
        backlog = _get(http, "/api/v1/backlog", analyst, by="department")
        # the figures count both cases, each once (FINAL exact across the shards)
        (figures,) = metrics
        assert (figures["group"], figures["reported"], figures["registered"], figures["dispatched"]) == (
            "transport",
            2,
            2,
            2,
        )
        assert (figures["closed"], figures["closed_on_time"]) == (1, 1)
        counted = {(d["duration"], d["n"]) for d in durations if d["group"] == "transport"}
        assert {("report_to_register", 2), ("register_to_dispatch", 2), ("report_to_close", 1)} <= counted
        assert [(b["group"], b["cases"]) for b in backlog] == [("transport", 1)]
