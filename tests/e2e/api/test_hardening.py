"""The front door as an attacker tries it, against the real server on its loopback port: text
and numbers refused rather than altered, the Host header never trusted, no key in a redirect,
an access log a client cannot forge lines in, security headers on every answer, a body that
never comes cut off, and an OpenAPI document that says what the API takes and answers."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from civicloop.tools.local.api_server import api_process
from tests.support.api_site import Site, poll

pytestmark = pytest.mark.integration
V2 = "/open311/v2"
FORM = {"service_code": "POTHOLE", "lat": "39.3", "long": "-76.6", "attribute[SIZE]": "small"}
URLENCODED = {"content-type": "application/x-www-form-urlencoded"}


def _form(**fields: str) -> bytes:
    return str(httpx.QueryParams({**FORM, **fields})).encode()


def test_text_and_numbers_are_refused_never_altered(site: Site) -> None:
    intake = site.key("intake")
    before = site.topic_ends()
    with site.client() as http:

        def post(body: bytes) -> httpx.Response:
            return http.post(f"{V2}/requests.json", content=body, headers=URLENCODED)

        refused = {
            "U+0085 in a description": post(_form(api_key=intake, description="a\u0085b")),
            "C1 in a name": post(_form(api_key=intake, first_name="Ja\u009bne")),
            "raw bytes not UTF-8": post(_form(api_key=intake) + b"&description=\xff\xfe"),
            "percent-escapes not UTF-8": post(_form(api_key=intake) + b"&description=%FF%FE"),
            "Arabic-Indic digits": post(_form(api_key=intake, lat="\u0661\u0662")),
            "underflow to 0.0": post(_form(api_key=intake, lat="1e-400")),
            "digits with underscores": post(_form(api_key=intake, lat="1_2")),
            "a broken IPv6 media_url": post(_form(api_key=intake, media_url="http://[::1")),
            "an address_id longer than the event holds": post(_form(api_key=intake, address_id="A" * 129)),
        }
        for what, response in refused.items():
            assert response.status_code == 400, (what, response.status_code, response.text)
            assert response.json()[0]["code"] == 400, what
        # a page number is ASCII digits: '²' passed isdigit() and then failed int() (a 500)
        for page in ("\u00b2", "\u0661\u0662"):
            listed = http.get(f"{V2}/requests.json", params={"api_key": intake, "page": page})
            assert listed.status_code == 400, (page, listed.text)
        # a path or query that is not UTF-8 once decoded, or a query with a control character
        for target in ("requests/%FF.json?", "requests.json?status=%C2%85&", "requests.json?status=%00&"):
            answer = http.get(f"{V2}/{target}api_key={intake}")
            assert answer.status_code == 400, (target, answer.text)
        nul = http.get(f"{V2}/requests/sr-%00.json?api_key={intake}")
        assert nul.status_code in (400, 404), nul.text  # no such request, and no 500
        # a description may have lines and tabs, and is kept as sent
        kept = post(_form(api_key=intake, description="line one\r\nline\ttwo"))
        assert kept.status_code == 200, kept.text
    assert sum(site.topic_ends().values()) == sum(before.values()) + 1  # only the good one


def test_ids_are_one_line_and_notes_have_no_controls(site: Site) -> None:
    headers = {"X-API-Key": site.key("supervisor")}
    with site.client() as http:
        created = http.post(f"{V2}/requests.json", data={**FORM, "api_key": site.key("intake")})
        case_id = created.json()[0]["service_request_id"]
        site.settle()
        before = site.topic_ends()

        def call(action: str, body: dict[str, Any]) -> httpx.Response:
            return http.post(f"/api/v1/cases/{case_id}/{action}", json=body, headers=headers)

        for body in ({"task_id": "T\u0000"}, {"task_id": "T\n1"}, {"task_id": "T\u0085"}):
            refused = call("accept", body)
            assert refused.status_code == 400, (body, refused.text)
            assert refused.json()["errors"][0]["field"] == "task_id"
        note = call("dispose", {"task_id": "T1", "outcome": "fixed", "note": "bad \u0007 bell"})
        assert note.status_code == 400 and note.json()["errors"][0]["field"] == "note", note.text
        # tab and line breaks pass the text check: the call gets as far as the guards (409)
        lines = call("dispose", {"task_id": "T1", "outcome": "fixed", "note": "two\nlines\tand a tab"})
        assert lines.status_code == 409, lines.text
    assert site.topic_ends() == before


def test_the_host_header_is_never_trusted_and_no_redirect_carries_a_key(site: Site) -> None:
    intake, public = site.key("intake"), site.config.api_public_url
    with site.client() as http:
        discovery = http.get(f"{V2}/discovery.json", headers={"Host": "evil.example"})
        assert discovery.json()["endpoints"][0]["url"] == public + V2
        moved = http.get(
            f"{V2}/requests.json/",
            params={"api_key": intake, "status": "open"},
            headers={"Host": "evil.example"},
        )
    assert moved.status_code == 308, moved.text
    location = urlsplit(moved.headers["location"])
    assert f"{location.scheme}://{location.netloc}" == public
    assert location.path == f"{V2}/requests.json"
    assert parse_qs(location.query) == {"status": ["open"]}  # the key stays behind


def test_security_headers_on_every_answer(site: Site) -> None:
    with site.client() as http:
        answers = [
            http.get("/health"),
            http.get("/docs"),
            http.get("/openapi.json"),
            http.get("/dashboard"),
            http.get("/dashboard/static/dashboard.js"),
            http.get("/no/such/route"),
            http.get(f"{V2}/requests.xml"),  # 403
            http.post(f"{V2}/requests.json", content=b"x" * 70_000, headers=URLENCODED),  # 413
        ]
    for answer in answers:
        policy = answer.headers.get("content-security-policy", "")
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy, answer.url
        assert "unsafe-inline" not in policy.split("script-src", 1)[1].split(";")[0], policy
        assert answer.headers.get("x-content-type-options") == "nosniff", answer.url
        assert answer.headers.get("referrer-policy") == "no-referrer", answer.url


def test_the_access_log_escapes_what_clients_send(site: Site) -> None:
    with site.client() as http:
        http.get("/forged%0Ahttp_request method=GET path=/admin%1B[31m")
    log = poll(
        lambda: api_process(site.config).log_tail(400),
        lambda text: "forged" in text,
        "the forged request in the access log",
    )
    lines = log.splitlines()
    assert not any(line.lstrip().startswith("http_request method=GET path=/admin") for line in lines)
    assert "\x1b[31m" not in log
    (line,) = [line for line in lines if "/forged" in line]  # one line, the newline escaped
    assert "path=/admin" in line and "\\n" in line, line


@pytest.fixture(scope="module")
def impatient(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second API process of the site whose request bodies have 2 s to arrive (the shared
    one's have the default 10 s: see conftest.py); its URL."""
    home: Path = tmp_path_factory.mktemp("impatient-api")
    with site.another_api(home, api_body_timeout=2.0, api_workers=1) as url:
        yield url


@pytest.mark.parametrize("how", ["announced", "trickled"])
def test_a_body_that_never_comes_is_cut_off(impatient: str, how: str) -> None:
    host, port = urlsplit(impatient).hostname, urlsplit(impatient).port
    head = (
        f"POST {V2}/requests.json HTTP/1.1\r\nHost: x\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"
    ).encode()
    with socket.create_connection((str(host), int(port or 80)), timeout=60) as conn:
        conn.sendall(head + b"service_code=")
        answer = b""
        for _ in range(240):  # at most two minutes of trickling (the API's limit is 2 s)
            if b"\r\n\r\n" in answer:
                break
            if how == "trickled":  # a byte at a time, never the whole body
                conn.settimeout(0.5)
                try:
                    conn.sendall(b"x")
                except OSError:
                    pass
            try:
                chunk = conn.recv(4096)
            except TimeoutError:
                if how == "trickled":
                    continue
                break
            if not chunk:
                break
            answer += chunk
        conn.settimeout(60)
        rest = answer
        while chunk := _recv(conn):  # then the server closes the connection
            rest += chunk
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"connection: close" in rest.lower()


def _recv(conn: socket.socket) -> bytes:
    try:
        return conn.recv(4096)
    except (ConnectionResetError, TimeoutError):
        return b""


def test_the_openapi_document_says_what_the_api_takes_and_answers(site: Site) -> None:
    with site.client() as http:
        spec = http.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert {(s.get("in"), s.get("name")) for s in schemes.values()} >= {
        ("header", "X-API-Key"),
        ("query", "api_key"),
    }
    assert any(s.get("scheme") == "bearer" for s in schemes.values())
    assert spec["servers"] == [{"url": site.config.api_public_url}]
    post = spec["paths"][f"{V2}/requests.{{fmt}}"]["post"]
    form = post["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert {"service_code", "lat", "long", "description", "media_url", "api_key"} <= set(form["properties"])
    assert form["properties"]["description"]["maxLength"] == 4000
    search = spec["paths"][f"{V2}/requests.{{fmt}}"]["get"]
    assert {"start_date", "end_date", "status", "service_code", "page_size"} <= {
        p["name"] for p in search["parameters"]
    }
    dispatch = spec["paths"]["/api/v1/cases/{case_id}/dispatch"]["post"]
    headers = {p["name"] for p in dispatch["parameters"] if p["in"] == "header"}
    assert {"Idempotency-Key", "Prefer"} <= headers
    assert {"400", "401", "403", "404", "409", "413"} <= set(dispatch["responses"])
    assert dispatch["responses"]["409"]["content"]["application/json"]["schema"]["$ref"].endswith("/Errors")
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            # FastAPI's 422 (a pydantic error list) is never answered: only writes are 422,
            # with the API's own error body
            wrong = operation["responses"].get("422", {}).get("content", {}).get("application/json", {})
            assert method == "post" or "422" not in operation["responses"], (method, path)
            assert "HTTPValidationError" not in str(wrong), (method, path)
    assert "security" not in spec["paths"][f"{V2}/services.{{fmt}}"]["get"]
    assert "security" not in search  # Open311 reads are public by default
    assert dispatch["security"]


def test_docs_are_served_by_the_api_itself(site: Site) -> None:
    with site.client() as http:
        page = http.get("/docs")
        assets = [http.get(f"/docs/static/{name}") for name in ("swagger-ui-bundle.js", "swagger-ui.css")]
    assert page.status_code == 200 and "<script>" not in page.text  # no inline script
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    assert all(a.status_code == 200 and len(a.content) > 10_000 for a in assets)
