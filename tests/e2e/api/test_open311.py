"""Open311 GeoReport v2 against the real server, in XML and JSON, every answer checked against
the spec (tests/support/open311_spec.py): discovery and services, a request's round trip from
POST to closed, list filters and paging, error arrays with their HTTP codes, api_key enforced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.support.api_site import Site, poll
from tests.support.open311_spec import checked

pytestmark = [
    pytest.mark.integration,
    pytest.mark.every_backend("the API reads through the worker on chDB, as the reader user on a server"),
]
V2 = "/open311/v2"


def w3c(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_discovery_and_services_follow_the_spec(site: Site, fmt: str) -> None:
    with site.client() as http:
        discovery = checked(http.get(f"{V2}/discovery.{fmt}"), "discovery", fmt)
        assert discovery["endpoints"][0]["url"].endswith(V2)
        assert "application/json" in discovery["endpoints"][0]["formats"]

        services = checked(http.get(f"{V2}/services.{fmt}"), "services", fmt)
        by_code = {s["service_code"]: s for s in services}
        assert by_code["GARBAGE"]["metadata"] is True and by_code["NOISE"]["metadata"] is False
        assert by_code["POTHOLE"]["type"] == "realtime" and "pothole" in by_code["POTHOLE"]["keywords"]

        definition = checked(http.get(f"{V2}/services/GARBAGE.{fmt}"), "service_definition", fmt)
        waste = definition["attributes"][0]
        assert (waste["code"], waste["datatype"], waste["required"]) == ("WASTE", "multivaluelist", True)
        assert [v["key"] for v in waste["values"]] == ["household", "recycling", "bulky", "hazardous"]
        assert [a["order"] for a in definition["attributes"]] == [1, 2, 3]

        missing = http.get(f"{V2}/services/NO_SUCH.{fmt}")
        assert missing.status_code == 404
        assert "NO_SUCH" in checked(missing, "errors", fmt)[0]["description"]


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_a_request_from_post_to_closed(site: Site, fmt: str) -> None:
    intake, dispatcher, supervisor = site.key("intake"), site.key("dispatcher"), site.key("supervisor")
    with site.client() as http:
        # given a citizen's report, posted form-encoded with the intake key
        form = {
            "api_key": intake,
            "service_code": "GARBAGE",
            "lat": "39.2904",
            "long": "-76.6122",
            "address_string": "12 Elm Road",
            "description": f"bags left out ({fmt})",
            "media_url": "https://img.example/bags.jpg",
            "attribute[WASTE][]": ["household", "bulky"],
            "account_id": f"acct-{fmt}",
        }
        created = checked(http.post(f"{V2}/requests.{fmt}", data=form), "created", fmt)
        request_id = created[0]["service_request_id"]
        assert created[0]["account_id"] == f"acct-{fmt}"

        # then GET requests/{id} shows it open, with its service and what the reporter wrote
        shown = _until(http, request_id, fmt, intake, lambda r: r is not None)
        assert (shown["status"], shown["service_code"], shown["service_name"]) == (
            "open",
            "GARBAGE",
            "Garbage not collected",
        )
        assert shown["description"] == f"bags left out ({fmt})"
        assert (shown["lat"], shown["long"], shown["address"]) == (39.2904, -76.6122, "12 Elm Road")
        assert shown["media_url"] == "https://img.example/bags.jpg"
        assert shown["agency_responsible"] is None

        # when the dispatcher registers and dispatches it and a supervisor closes it
        _handle(http, site, dispatcher, request_id, "register", {}, "REGISTERED")
        _handle(http, site, dispatcher, request_id, "dispatch", {}, "DISPATCHED")
        _handle(http, site, supervisor, request_id, "close", {"reason": "resolved"}, "CLOSED")

        # then it is closed, with the lead department and the close time
        case = http.get(f"/api/v1/cases/{request_id}", headers={"X-API-Key": supervisor}).json()
        closed = _until(http, request_id, fmt, intake, lambda r: r["status"] == "closed")
        assert closed["agency_responsible"] == "sanitation"  # the department GARBAGE routes to
        assert closed["updated_datetime"] == w3c(datetime.fromisoformat(case["closed_at"]))
        assert closed["expected_datetime"] == w3c(datetime.fromisoformat(case["due_at"]))
        assert closed["status_notes"] == "Closed: resolved."

        # and the token lookup answers for the realtime id
        token = checked(
            http.get(f"{V2}/tokens/{request_id}.{fmt}", params={"api_key": intake}), "tokens", fmt
        )
        assert token == [{"service_request_id": request_id, "token": request_id}]


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_list_filters_and_paging(site: Site, fmt: str) -> None:
    intake, supervisor = site.key("intake"), site.key("supervisor")
    # a period of this test's own: from the next whole second (times are whole seconds), so no
    # earlier test's request falls in it
    since = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    poll(lambda: datetime.now(UTC), lambda now: now >= since, "the next second")
    with site.client() as http:
        # given two requests of different services, the older one closed
        first = _post(http, intake, fmt, service_code="NOISE", address_string="3 Mill Road")
        _until(http, first, fmt, intake, lambda r: r is not None)
        second = _post(http, intake, fmt, service_code="TREE", address_id="ADDR-77")
        _handle(http, site, supervisor, first, "register", {}, "REGISTERED")
        _handle(http, site, supervisor, first, "close", {"reason": "withdrawn"}, "CLOSED")
        _until(http, second, fmt, intake, lambda r: r is not None)
        window = {
            "api_key": intake,
            "start_date": w3c(since),
            "end_date": w3c(datetime.now(UTC) + timedelta(seconds=5)),
        }

        def found(**params: Any) -> list[dict[str, Any]]:
            return list(
                checked(http.get(f"{V2}/requests.{fmt}", params={**window, **params}), "requests", fmt)
            )

        def ids(**params: Any) -> list[str]:
            return [r["service_request_id"] for r in found(**params)]

        # then the period holds both, newest first (times are whole seconds: a tie keeps id order)
        both = found()
        assert {r["service_request_id"] for r in both} == {first, second}
        times = [r["requested_datetime"] for r in both]
        assert times == sorted(times, reverse=True)
        # each filter keeps what it should
        assert ids(service_code="NOISE") == [first]
        assert set(ids(service_code="NOISE,TREE")) == {first, second}
        assert ids(status="closed") == [first]
        assert ids(status="open") == [second]
        # paging (the common page / page_size extension) walks the same order one by one
        order = [r["service_request_id"] for r in both]
        assert [ids(page_size="1", page=str(n)) for n in (1, 2, 3)] == [[order[0]], [order[1]], []]
        # service_request_id overrides every other filter
        listed = {"api_key": intake, "service_request_id": f"{first},{second}", "status": "open"}
        overridden = checked(http.get(f"{V2}/requests.{fmt}", params=listed), "requests", fmt)
        assert {r["service_request_id"] for r in overridden} == {first, second}
        # a period before both finds neither; the default period (last 90 days) finds both
        before = {"start_date": w3c(since - timedelta(days=2)), "end_date": w3c(since - timedelta(days=1))}
        assert ids(**before) == []
        recent = checked(http.get(f"{V2}/requests.{fmt}", params={"api_key": intake}), "requests", fmt)
        assert {first, second} <= {r["service_request_id"] for r in recent}
        shown = {r["service_request_id"]: r for r in recent}
        assert shown[second]["address_id"] == "ADDR-77" and shown[first]["address"] == "3 Mill Road"


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_errors_are_arrays_with_the_right_http_codes(site: Site, fmt: str) -> None:
    intake, analyst = site.key("intake"), site.key("analyst")
    good = {"service_code": "POTHOLE", "lat": "39.3", "long": "-76.6", "attribute[SIZE]": "small"}
    before = sum(site.topic_ends().values())
    with site.client() as http:

        def post(**fields: str) -> httpx.Response:
            return http.post(f"{V2}/requests.{fmt}", data={k: v for k, v in {**good, **fields}.items() if v})

        def get(path: str, **params: str) -> httpx.Response:
            return http.get(f"{V2}/{path}.{fmt}", params=params)

        cases = [
            # api_key is enforced: missing, unknown, or a role that may not report → 403
            (post(), 403, "no API key"),
            (post(api_key="clk_nope"), 403, "not valid"),
            (post(api_key=analyst), 403, "may not report"),
            (get("requests", api_key="clk_nope"), 403, "not valid"),
            (get("requests/sr-x", api_key="clk_nope"), 403, "not valid"),
            # unknown things → 404
            (post(api_key=intake, service_code="NOPE"), 404, "NOPE"),
            (get("requests/sr-none", api_key=intake), 404, "sr-none"),
            (post(api_key=intake, jurisdiction_id="x.org"), 404, "jurisdiction_id"),
            # bad input → 400, naming the field
            (post(api_key=intake, lat="", long=""), 400, "location is required"),
            (post(api_key=intake, lat="95"), 400, "lat"),
            (post(api_key=intake, **{"attribute[SIZE]": "huge"}), 400, "attribute[SIZE]"),
            (post(api_key=intake, description="x" * 4001), 400, "description"),
            (
                get(
                    "requests",
                    api_key=intake,
                    start_date="2024-01-01T00:00:00Z",
                    end_date="2024-06-01T00:00Z",
                ),
                400,
                "90 days",
            ),
            (get("requests", api_key=intake, status="pending"), 400, "status"),
            # a list with an empty item is refused, not read as "no filter" (which is everything)
            (get("requests", service_request_id="sr-a,,sr-b"), 400, "empty item"),
            (get("requests", service_request_id=","), 400, "empty item"),
            (get("requests", service_request_id=""), 400, "empty item"),
            (get("requests", service_code="POTHOLE,"), 400, "empty item"),
            # jurisdiction_id is checked alike on every endpoint
            (get("requests", jurisdiction_id="x.org"), 404, "jurisdiction_id"),
            (get("requests/sr-x", jurisdiction_id="x.org"), 404, "jurisdiction_id"),
            (get("tokens/sr-x", jurisdiction_id="x.org"), 404, "jurisdiction_id"),
            (get("services", jurisdiction_id="x.org"), 404, "jurisdiction_id"),
            (get("services/POTHOLE", jurisdiction_id="x.org"), 404, "jurisdiction_id"),
            (get("discovery", jurisdiction_id="x.org"), 404, "jurisdiction_id"),
            # a code that is neither a service nor any case's category
            (get("requests", service_code="no.such.category"), 400, "no.such.category"),
        ]
        for response, status, text in cases:
            errors = checked(response, "errors", fmt)
            assert response.status_code == status, (text, response.text)
            assert all(e["code"] == status for e in errors)
            assert any(text in e["description"] for e in errors), (text, errors)
    assert sum(site.topic_ends().values()) == before, "no error produced an event"


def _post(http: httpx.Client, key: str, fmt: str, **fields: str) -> str:
    form = {"api_key": key, "description": "test", **fields}
    return str(checked(http.post(f"{V2}/requests.{fmt}", data=form), "created", fmt)[0]["service_request_id"])


def _until(http: httpx.Client, request_id: str, fmt: str, key: str, done: Any) -> Any:
    def read() -> Any:
        response = http.get(f"{V2}/requests/{request_id}.{fmt}", params={"api_key": key})
        if response.status_code == 404:
            return None
        found = checked(response, "requests", fmt)
        assert len(found) == 1  # GET requests/{id} answers a one-element array
        return found[0]

    return poll(read, lambda r: r is not None and done(r), f"request {request_id}")


def _handle(
    http: httpx.Client, site: Site, key: str, case_id: str, action: str, body: dict[str, Any], state: str
) -> None:
    response = http.post(f"/api/v1/cases/{case_id}/{action}", json=body, headers={"X-API-Key": key})
    assert response.status_code == 202, response.text
    poll(
        lambda: http.get(f"/api/v1/cases/{case_id}", headers={"X-API-Key": key}).json().get("state"),
        lambda s: s == state,
        f"case {case_id} {state}",
    )


def test_openapi_is_served_with_every_route(site: Site) -> None:
    with site.client() as http:
        spec = http.get("/openapi.json").json()
        docs = http.get("/docs")
    paths = set(spec["paths"])
    assert {
        f"{V2}/requests.{{fmt}}",
        f"{V2}/services/{{service_code}}.{{fmt}}",
        "/api/v1/cases/{case_id}",
    } <= paths
    handling = {
        p.rsplit("/", 1)[-1]
        for p in paths
        if p.startswith("/api/v1/cases/{case_id}/") and "post" in spec["paths"][p]
    }
    assert "get" in spec["paths"]["/api/v1/cases/{case_id}/actions"]  # the console's read of them
    assert handling == {
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
    }
    dispose = spec["paths"]["/api/v1/cases/{case_id}/dispose"]["post"]
    assert "202" in dispose["responses"] and "409" in dispose["responses"]
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
