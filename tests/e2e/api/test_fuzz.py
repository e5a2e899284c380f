"""At least 2,000 malformed requests against the real server: every one is answered 4xx, the
server keeps serving, and none of them produced an event.

Each request is a valid one broken in exactly one way drawn by hypothesis (a field missing, of
the wrong type, out of range, unknown, repeated, too long, with control characters C0 or C1;
bytes that are not UTF-8, raw or percent-escaped, in a body, path or query; numbers in
non-ASCII digits, with underscores, that overflow or underflow; a malformed IPv6 URL; ids with
NUL or line breaks; a bad key or role; a body that is no form or no JSON; an unknown case,
service, route or format), so every request is known to be malformed — the property is that
the answer says so.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.api_site import Site

pytestmark = pytest.mark.integration
EXAMPLES = 2_200

text = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
junk = st.one_of(st.binary(max_size=300), text.map(str.encode))
control = st.sampled_from(["\x00", "\x01", "\x07", "\x1b", "\x7f", "\x85", "\x9b", "\x80", "\x9f"])
#: one-line fields refuse these too
line_break = st.sampled_from(["\n", "\r", "\t"])
#: not UTF-8: raw, and as percent-escapes
raw_not_utf8 = st.sampled_from([b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\x80", b"\xf8\x88\x80\x80\x80"])
escaped_not_utf8 = st.sampled_from(["%FF%FE", "%C3%28", "%ED%A0%80", "%80", "%C0%AF"])
#: digits float() reads, but not ASCII (Arabic-Indic, Devanagari, full-width, superscript)
foreign_digits = st.sampled_from(["\u0661\u0662", "\u0967\u0968.\u0969", "\uff11\uff12", "\u00b2", "1\u0662"])
#: numbers float() reads that are no plain finite ASCII number in range
odd_numbers = st.sampled_from(
    ["1e-400", "-3e-999", "1e400", "inf", "-Infinity", "nan", "1_2", "0x1A", "12.5.1", "--1"]
)
broken_urls = st.sampled_from(
    [
        "http://[::1",
        "http://[::1]:99999/a.jpg",
        "https://[zz]/a.jpg",
        "http://[::1/x",
        "http://:80/",
        "http:///a",
    ]
)
not_a_number = text.filter(lambda s: _not_float(s))
big = st.sampled_from([91, -91, 1e9, float("inf")]).map(str)
#: calls of the right shape that no merely reported case allows (409)
ILLEGAL = [
    ("close", {"reason": "resolved"}),
    ("accept", {"task_id": "T1"}),
    ("check", {"passed": False}),
    ("reopen", {"reason": "other"}),
]
BAD_FIGURES = [
    ("metrics", {"by": "planet"}),
    ("backlog", {"as_of": "soon"}),
    ("metrics", {"from": "x"}),
    ("durations", {"to": "later"}),
]
VALID_FORM = {
    "service_code": "POTHOLE",
    "lat": "39.3",
    "long": "-76.6",
    "attribute[SIZE]": "small",
    "description": "a hole",
}


def _not_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return True
    return False


@st.composite
def broken_form(draw: st.DrawFn, key: str) -> tuple[str, str, Any, dict[str, str]]:
    """(method, path, content, headers): an Open311 POST broken one way."""
    form: dict[str, Any] = {**VALID_FORM, "api_key": key}
    how = draw(
        st.sampled_from(
            [
                "drop_code",
                "unknown_code",
                "bad_lat",
                "big_lat",
                "lat_alone",
                "no_location",
                "long_description",
                "bad_email",
                "bad_phone",
                "bad_media",
                "unknown_field",
                "control",
                "bad_attribute",
                "unknown_attribute",
                "missing_attribute",
                "list_on_single",
                "two_values",
                "no_key",
                "wrong_key",
                "json_body",
                "junk_body",
                "bad_format",
                "jurisdiction",
                "huge_body",
                "line_break",
                "raw_not_utf8",
                "escaped_not_utf8",
                "foreign_digits",
                "odd_number",
                "broken_url",
                "long_address_id",
                "odd_attribute_number",
            ]
        )
    )
    headers = {"content-type": "application/x-www-form-urlencoded"}
    fmt = draw(st.sampled_from(["xml", "json"]))
    if how == "drop_code":
        del form["service_code"]
    elif how == "unknown_code":
        form["service_code"] = "X" + draw(text.filter(lambda s: s.strip() not in ("",)))
    elif how == "bad_lat":
        form["lat"] = draw(not_a_number)
        if not form["lat"].strip():
            form["lat"] = "north"
    elif how == "big_lat":
        form["lat"] = draw(big)
    elif how == "lat_alone":
        del form["long"]
    elif how == "no_location":
        del form["lat"], form["long"]
    elif how == "long_description":
        form["description"] = "x" * draw(st.integers(4001, 9000))
    elif how == "bad_email":
        form["email"] = draw(text.filter(lambda s: "@" not in s and s.strip())) or "nobody"
    elif how == "bad_phone":
        form["phone"] = "call " + draw(st.text(alphabet="abcxyz", min_size=1, max_size=10))
    elif how == "bad_media":
        form["media_url"] = draw(st.sampled_from(["ftp://x/y.jpg", "not a url", "javascript:alert(1)"]))
    elif how == "unknown_field":
        form["z_" + draw(st.text(alphabet="abcdefgh", min_size=1, max_size=8))] = draw(text)
    elif how == "control":
        name = draw(st.sampled_from(["description", "address_string", "first_name"]))
        form[name] = draw(text) + draw(control) + draw(text)
    elif how == "line_break":
        form["address_string"] = draw(text) + "\n" + draw(text)
    elif how == "bad_attribute":
        form["attribute[SIZE]"] = "size-" + draw(text)
    elif how == "unknown_attribute":
        form["attribute[Q" + draw(st.text(alphabet="ABC123", min_size=1, max_size=6)) + "]"] = draw(text)
    elif how == "missing_attribute":
        del form["attribute[SIZE]"]
    elif how == "list_on_single":
        del form["attribute[SIZE]"]
        form["attribute[SIZE][]"] = "small"
    elif how == "two_values":
        form["attribute[SIZE]"] = ["small", "large"]
    elif how == "no_key":
        del form["api_key"]
    elif how == "wrong_key":
        form["api_key"] = draw(st.sampled_from(["", "clk_", "clk_guess", "x" * 300])) or "clk_z"
    elif how == "json_body":
        return (
            "POST",
            f"/open311/v2/requests.{fmt}",
            json.dumps(form).encode(),
            {"content-type": "application/json"},
        )
    elif how == "junk_body":
        return "POST", f"/open311/v2/requests.{fmt}", draw(junk), headers
    elif how == "bad_format":
        fmt = draw(st.sampled_from(["yaml", "html", "xml2", "JSON"]))
    elif how == "jurisdiction":
        form["jurisdiction_id"] = "elsewhere-" + draw(st.text(alphabet="abc", max_size=5))
    elif how == "huge_body":
        form["description"] = "y" * 70_000
    elif how in ("raw_not_utf8", "escaped_not_utf8"):
        name = draw(st.sampled_from(["description", "address_string", "first_name", "z"]))
        bad = draw(raw_not_utf8) if how == "raw_not_utf8" else draw(escaped_not_utf8).encode()
        return (
            "POST",
            f"/open311/v2/requests.{fmt}",
            _encode(form) + b"&" + name.encode() + b"=" + bad,
            headers,
        )
    elif how == "foreign_digits":
        form[draw(st.sampled_from(["lat", "long"]))] = draw(foreign_digits)
    elif how == "odd_number":
        form[draw(st.sampled_from(["lat", "long"]))] = draw(odd_numbers)
    elif how == "broken_url":
        form["media_url"] = draw(broken_urls)
    elif how == "long_address_id":
        form["address_id"] = "A" * draw(st.integers(129, 300))
    elif how == "odd_attribute_number":
        form = {
            "api_key": key,
            "service_code": "STREETLIGHT",
            "lat": "39.3",
            "long": "-76.6",
            "attribute[LIGHTS_OUT]": draw(st.one_of(foreign_digits, odd_numbers)),
        }
    return "POST", f"/open311/v2/requests.{fmt}", _encode(form), headers


@st.composite
def broken_call(draw: st.DrawFn, key: str, case_id: str) -> tuple[str, str, Any, dict[str, str]]:
    """A handling call broken one way (for a case that is only reported)."""
    action, body = draw(
        st.sampled_from(
            [
                ("close", {"reason": "resolved"}),
                ("accept", {"task_id": "T1"}),
                ("register", {}),
                ("dispose", {"task_id": "T1", "outcome": "fixed"}),
                ("check", {"passed": True}),
            ]
        )
    )
    headers = {"content-type": "application/json", "X-API-Key": key}
    case = case_id
    how = draw(
        st.sampled_from(
            [
                "illegal",
                "unknown_case",
                "junk",
                "not_object",
                "unknown_field",
                "wrong_type",
                "bad_enum",
                "no_key",
                "wrong_key",
                "bad_idempotency",
                "bad_time",
                "huge",
                "control_id",
                "control_note",
                "long_id",
                "surrogate",
            ]
        )
    )
    content: Any = None
    if how == "illegal":  # legal shape, illegal for a merely reported case
        action, body = draw(st.sampled_from(ILLEGAL))
    elif how == "unknown_case":
        case = "nope-" + draw(st.text(alphabet="abcdef0123", min_size=1, max_size=12))
    elif how == "junk":
        content = draw(junk.filter(lambda b: not _is_json_object(b)))
    elif how == "not_object":
        content = json.dumps(
            draw(st.one_of(st.lists(st.integers(), max_size=3), st.integers(), text))
        ).encode()
    elif how == "unknown_field":
        body = {**body, "x_" + draw(st.text(alphabet="xyz", min_size=1, max_size=5)): draw(text)}
    elif how == "wrong_type":
        action, body = draw(
            st.sampled_from(
                [
                    ("accept", {"task_id": 7}),
                    ("check", {"passed": "yes"}),
                    ("close", {"reason": None}),
                    ("feedback", {"resolved": 1, "satisfaction": "satisfied"}),
                    ("accept", {}),
                ]
            )
        )
    elif how == "bad_enum":
        action, field = draw(st.sampled_from([("close", "reason"), ("reopen", "reason")]))
        body = {field: "nonsense-" + draw(st.text(alphabet="abc", max_size=4))}
    elif how == "no_key":
        del headers["X-API-Key"]
    elif how == "wrong_key":
        headers["X-API-Key"] = "clk_" + draw(st.text(alphabet="abcdef", max_size=20))
    elif how == "bad_idempotency":
        headers["Idempotency-Key"] = draw(st.sampled_from(["has space", "x" * 201, "tab\there"]))
        action, body = "close", {"reason": "resolved"}
    elif how == "bad_time":
        action, body = (
            "register",
            {"occurred_at": draw(st.sampled_from(["yesterday", "2024-01-01T00:00:00", "1"]))},
        )
    elif how == "huge":
        content = json.dumps({"note": "z" * 70_000}).encode()
    elif how == "control_id":  # ids are one line: no NUL, line break, tab or C1
        action = draw(st.sampled_from(["accept", "dispose", "contact"]))
        bad = draw(st.one_of(control, line_break))
        body = {"task_id": draw(text) + bad + draw(text), "outcome": "fixed"}
        if action != "dispose":
            del body["outcome"]
    elif how == "control_note":  # a note may have lines and tabs, no other control character
        action = draw(st.sampled_from(["void", "check", "dispose"]))
        note = draw(text) + draw(control) + draw(text)
        body = {
            "void": {"reason": "invalid", "note": note},
            "check": {"passed": True, "note": note},
            "dispose": {"task_id": "T1", "outcome": "fixed", "note": note},
        }[action]
    elif how == "long_id":
        action, body = "accept", {"task_id": "T" * draw(st.integers(129, 400))}
    elif how == "surrogate":  # a lone surrogate as a JSON escape: no UTF-8 text can carry it
        escape = draw(st.sampled_from(["\\ud800", "\\udcff", "\\udfff"]))
        action = draw(st.sampled_from(["accept", "void"]))
        field = "task_id" if action == "accept" else "note"
        extra = '"reason": "invalid", ' if action == "void" else ""
        content = ("{" + extra + f'"{field}": "x{escape}y"' + "}").encode()
    if content is None:
        content = json.dumps(body).encode()
    return "POST", f"/api/v1/cases/{case}/{action}", content, headers


@st.composite
def broken_read(draw: st.DrawFn, key: str) -> tuple[str, str, Any, dict[str, str]]:
    """A read broken one way: bad filters or id lists, unknown ids, routes or formats, a bad key."""
    fmt = draw(st.sampled_from(["xml", "json"]))
    params: dict[str, str] = {"api_key": key}
    how = draw(
        st.sampled_from(
            [
                "param",
                "dates",
                "span",
                "page",
                "status",
                "unknown_id",
                "no_key",
                "ids",
                "route",
                "service",
                "case",
                "metrics",
                "odd_page",
                "path_bytes",
                "query_bytes",
            ]
        )
    )
    path = f"/open311/v2/requests.{fmt}"
    if how == "param":
        params["q_" + draw(st.text(alphabet="abc", min_size=1, max_size=4))] = draw(text)
    elif how == "dates":
        params["start_date"] = draw(st.sampled_from(["today", "2024-13-01T00:00:00Z", "2024-01-01T00:00:00"]))
    elif how == "span":
        params |= {"start_date": "2024-01-01T00:00:00Z", "end_date": "2024-12-01T00:00:00Z"}
    elif how == "page":
        params["page"] = draw(st.sampled_from(["0", "-1", "two", "1.5"]))
    elif how == "status":
        params["status"] = "status-" + draw(st.text(alphabet="abc", max_size=4))
    elif how == "unknown_id":
        path = f"/open311/v2/requests/sr-none{draw(st.integers(0, 10**6))}.{fmt}"
    elif how == "no_key":  # reads need no key, but one that is sent must be valid
        params["api_key"] = "clk_" + draw(st.text(alphabet="abcdef0123", max_size=20))
    elif how == "ids":  # an empty item must not widen the search to everything
        params["service_request_id"] = draw(st.sampled_from(["", ",", "a,,b", ",a", "a,"]))
    elif how == "route":
        path = "/open311/v2/" + draw(
            st.sampled_from(["service.xml", "requests", "x/y.json", "discovery.txt"])
        )
    elif how == "service":
        path = f"/open311/v2/services/NO{draw(st.integers(0, 999))}.{fmt}"
    elif how == "case":
        path = f"/api/v1/cases/none-{draw(st.integers(0, 10**6))}"
    elif how == "metrics":
        path, bad = draw(st.sampled_from(BAD_FIGURES))
        path, params = f"/api/v1/{path}", {**bad, "api_key": key}
    elif how == "odd_page":
        params[draw(st.sampled_from(["page", "page_size"]))] = draw(foreign_digits)
    elif how in ("path_bytes", "query_bytes"):  # sent as written: percent-escapes of bad bytes
        bad = draw(
            st.one_of(escaped_not_utf8, st.sampled_from(["%00", "%0A", "%0D", "%1B", "%7F", "%C2%85"]))
        )
        if how == "path_bytes":
            where = draw(
                st.sampled_from(["/open311/v2/requests/sr-{}.json", "/api/v1/cases/c{}", "/open311/v2/{}"])
            )
            path = where.format(bad)
        else:
            name = draw(st.sampled_from(["status", "service_code", "start_date", "q"]))
            path = f"{path}?{name}=x{bad}&api_key={key}"
        params = {}
    return "GET", path, None, {"X-Params": json.dumps(params)}


def test_malformed_requests_are_4xx_and_produce_nothing(site: Site) -> None:
    intake, supervisor = site.key("intake"), site.key("supervisor")
    with site.client() as http:
        created = http.post("/open311/v2/requests.json", data={**VALID_FORM, "api_key": intake})
        assert created.status_code == 200, created.text
        case_id = created.json()[0]["service_request_id"]
        site.settle()
        before = site.topic_ends()
        answers: list[int] = []

        @settings(
            max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        @given(st.one_of(broken_form(intake), broken_call(supervisor, case_id), broken_read(intake)))
        def one(request: tuple[str, str, Any, dict[str, str]]) -> None:
            method, path, content, headers = request
            params = json.loads(headers.pop("X-Params", "{}"))
            response = http.request(method, path, content=content, headers=headers, params=params or None)
            answers.append(response.status_code)
            # the answer is a client error, with a body that says what was wrong
            assert 400 <= response.status_code < 500, (
                method,
                path,
                content,
                response.status_code,
                response.text,
            )
            assert response.content.strip(), (path, response.status_code)

        one()

        assert len(answers) >= 2_000
        assert {400, 401, 403, 404, 409, 413} <= set(answers)  # the whole range of refusals was exercised
        # then the server still serves, and no malformed request produced an event
        assert http.get("/health").json() == {"status": "ok"}
        assert site.topic_ends() == before
        again = http.post("/open311/v2/requests.json", data={**VALID_FORM, "api_key": intake})
        assert again.status_code == 200


def _encode(form: dict[str, Any]) -> bytes:
    return httpx.QueryParams(form).__str__().encode()


def _is_json_object(data: bytes) -> bool:
    try:
        return isinstance(json.loads(data), dict)
    except ValueError:
        return False
