"""Open311 as third-party client libraries from PyPI use it, against the real server.

civicbot's ``Open311Client`` files a report (POST with an intake key, as the spec asks) and
georeport's ``GeoReport`` reads it back, in JSON and in XML, sending no key at all — as such
libraries do for every GET. Both send ``jurisdiction_id`` on every call. Neither library knows
civicloop: what they get is what any citizen app gets.

Then what public reads withhold (a private service's description and media), what a key still
shows, the codes the API answers working as filters, and ``CIVICLOOP_OPEN311_READS=key``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from civicbot.http import HttpTransport, RateLimiter
from civicbot.open311 import Open311Client
from civicbot.registry import Endpoint
from georeport import GeoReport

from civicloop.schemas.events import new_event
from civicloop.streams.producer import EventProducer
from tests.support.api_site import Site, poll

pytestmark = pytest.mark.integration
V2 = "/open311/v2"
JURISDICTION = "civicloop.example"  # the packaged catalogue's


@pytest.fixture(autouse=True)
def _no_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEOREPORT_API_KEY", raising=False)  # georeport would send it


def _filer(site: Site) -> Open311Client:
    endpoint = Endpoint(id="civicloop", name="civicloop", base_url=site.url + V2, write=True)
    transport = HttpTransport(rate_limiter=RateLimiter(min_interval=0))
    return Open311Client(endpoint, transport=transport, jurisdiction_id=JURISDICTION)


def _file(site: Site, service_code: str, **fields: Any) -> str:
    filed = _filer(site).create_request(
        service_code,
        dry_run=False,
        confirm="SEND",
        api_key=site.key("intake"),
        validate_remote=True,  # the library reads the services and the definition first
        **fields,
    )
    return str(filed.response[0]["service_request_id"])


def _once_found(read: Callable[[], Any]) -> Any:
    """``read()`` once the request is projected (404 until then)."""

    def attempt() -> Any:
        try:
            return read()
        except requests.HTTPError as exc:
            if exc.response is not None and exc.response.status_code == 404:
                return None
            raise

    return poll(attempt, lambda found: found is not None, "the request read back")


def _listed(found: Any) -> list[dict[str, Any]]:
    # georeport gives XML lists as xmltodict reads them: one element is a dict, not a list
    return found if isinstance(found, list) else [found]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_client_library_files_a_report_and_reads_it_back_without_a_key(site: Site, fmt: str) -> None:
    # given a report filed through a client library, with the intake key
    request_id = _file(
        site,
        "POTHOLE",
        lat=39.2904,
        lng=-76.6122,
        description=f"a deep hole ({fmt})",
        media_url="https://img.example/hole.jpg",
        attributes={"SIZE": "large"},
        account_id=f"lib-{fmt}",
    )
    assert request_id.startswith("sr-")

    # when another library reads it back with no key at all
    reader = GeoReport(site.url + V2, jurisdiction=JURISDICTION, output_format=fmt)
    assert reader.api_key is None
    shown = _once_found(lambda: reader.get_service_request(request_id))

    # then it is there, as reported, and nothing of the reporter's contact is
    assert (shown["service_request_id"], shown["status"], shown["service_code"]) == (
        request_id,
        "open",
        "POTHOLE",
    )
    assert shown["description"] == f"a deep hole ({fmt})"
    assert shown["media_url"] == "https://img.example/hole.jpg"
    assert float(shown["lat"]) == 39.2904 and float(shown["long"]) == -76.6122
    assert f"lib-{fmt}" not in str(shown) and "account_id" not in shown

    # and the list reads find it too: by id, and by service and period
    by_id = _listed(reader.get_service_requests(service_request_id=request_id))
    assert [r["service_request_id"] for r in by_id] == [request_id]
    now = datetime.now(UTC)
    recent = _listed(
        reader.get_service_requests(
            service_code="POTHOLE",
            status="open",
            start_date=(now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            end_date=(now + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
    )
    assert request_id in {r["service_request_id"] for r in recent}

    # and the services and the definition the filer used are public too
    codes = {s["service_code"] for s in _listed(reader.get_service_list())}
    assert {"POTHOLE", "GARBAGE", "NOISE"} <= codes
    definition = reader.get_service_definition("POTHOLE")
    attributes = _listed(definition["attributes"]["attribute"] if fmt == "xml" else definition["attributes"])
    assert attributes[0]["code"] == "SIZE"

    # and the token read (the id itself: every service is realtime) needs no key either
    assert _filer(site).get_token(request_id) == [{"service_request_id": request_id, "token": request_id}]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_public_reads_withhold_a_private_services_text_and_media(site: Site, fmt: str) -> None:
    # given a report of a service the catalogue marks private (NOISE)
    request_id = _file(
        site,
        "NOISE",
        address_string="4 Quarry Row",
        description=f"my neighbour at no. 6 drills at night ({fmt})",
        media_url="https://img.example/drill.mp4",
        email="resident@example.org",
    )
    reader = GeoReport(site.url + V2, jurisdiction=JURISDICTION, output_format=fmt)

    # when it is read without a key
    shown = _once_found(lambda: reader.get_service_request(request_id))

    # then what the reporter wrote and sent is withheld; where and what it is stays
    assert shown["description"] is None and shown["media_url"] is None
    assert (shown["service_code"], shown["address"]) == ("NOISE", "4 Quarry Row")
    assert "resident@example.org" not in str(shown)

    # and a reader with a key sees the description (still no contact)
    with site.client() as http:
        answer = http.get(f"{V2}/requests/{request_id}.json", params={"api_key": site.key("analyst")})
    keyed = answer.json()[0]
    assert keyed["description"] == f"my neighbour at no. 6 drills at night ({fmt})"
    assert keyed["media_url"] == "https://img.example/drill.mp4"
    assert "resident@example.org" not in str(keyed)


def test_every_service_code_the_api_answers_works_as_a_filter(site: Site) -> None:
    # given a case phoned in under a category no service covers
    case_id = f"phoned-{datetime.now(UTC).strftime('%H%M%S%f')}"
    reported = new_event(
        "CaseReported",
        case_id=case_id,
        actor={"type": "hotline_agent", "id": "agent-7"},
        source="tests/open311-clients",
        occurred_at=datetime.now(UTC) - timedelta(minutes=1),
        channel="hotline",
        category="road.sign_damaged",
        description="a bent sign",
        location={"address": "9 Lime Street"},
        priority="normal",
        reporter_ref=None,
    )
    with EventProducer(site.config.kafka_bootstrap, site.config.events_topic) as producer:
        producer.send(reported)
    reader = GeoReport(site.url + V2, jurisdiction=JURISDICTION)
    shown = _once_found(lambda: reader.get_service_request(case_id))

    # when the code the API answered for it is used as a filter
    code = shown["service_code"]
    assert code == "road.sign_damaged"
    found = reader.get_service_requests(service_code=f"{code},POTHOLE")

    # then the case is found
    assert case_id in {r["service_request_id"] for r in found}


def test_a_deployment_can_require_a_key_for_reads(site: Site, tmp_path: Path) -> None:
    # given a second API process of the same deployment with CIVICLOOP_OPEN311_READS=key
    with site.another_api(tmp_path, open311_reads="key") as url:
        base = url + V2
        # when a client library reads service requests without a key, then it is refused (403)
        with pytest.raises(requests.HTTPError) as refused:
            GeoReport(base, jurisdiction=JURISDICTION).get_service_requests()
        assert refused.value.response is not None and refused.value.response.status_code == 403
        assert "no API key" in refused.value.response.json()[0]["description"]
        # while the service catalogue stays public, and a key opens the reads
        assert "POTHOLE" in {s["service_code"] for s in GeoReport(base).get_service_list()}
        keyed = requests.get(f"{base}/requests.json", params={"api_key": site.key("analyst")}, timeout=60)
        assert keyed.status_code == 200, keyed.text
