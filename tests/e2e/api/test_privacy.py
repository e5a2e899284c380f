"""Intake through the API keeps contacts sealed: after a report with e-mail, phone, names,
account and device ids, none of them is anywhere in Kafka (every message of both topics, as
bytes) or in ClickHouse (every string column of every table); and only a key that may call
the reporter back sees the contact."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from tests.support.api_site import Site, poll

pytestmark = pytest.mark.integration


def test_no_plaintext_contact_in_kafka_or_clickhouse(site: Site) -> None:
    tag = uuid.uuid4().hex[:10]
    contact = {
        "email": f"jane.{tag}@example.org",
        "phone": f"+1 410 555 {int(tag[:6], 16) % 10_000:04d}",
        "first_name": f"Jane{tag}",
        "last_name": f"Roe{tag}",
        "account_id": f"acct-{tag}",
        "device_id": f"device-{tag}",
    }
    with site.client() as http:
        form = {
            "api_key": site.key("intake"),
            "service_code": "WATER_LEAK",
            "lat": "39.3",
            "long": "-76.6",
            "description": f"leak report {tag}",
            **contact,
        }
        created = http.post("/open311/v2/requests.json", data=form)
        assert created.status_code == 200, created.text
        case_id = created.json()[0]["service_request_id"]
        assert created.json()[0]["account_id"] == contact["account_id"]  # echoed to the reporter only
    site.settle()

    # Kafka: every message of the events and dead-letter topics, raw bytes
    raw = b"\n".join(site.messages()) + b"\n".join(site.messages(site.config.dead_letter_topic))
    assert f"leak report {tag}".encode() in raw, "the scan does see what the report says"
    for name, value in contact.items():
        assert value.encode() not in raw, name

    # ClickHouse: every String column (also Nullable/LowCardinality/Array of String) of every table
    columns = site.query(
        "SELECT table, name FROM system.columns WHERE database = %(db)s AND type LIKE '%%String%%'",
        {"db": site.config.database},
    )
    assert len({table for table, _ in columns}) >= 5

    def hits(needle: str) -> dict[str, int]:
        found = {}
        for table, column in columns:
            sql = f"SELECT count() FROM {{db}}.{table} WHERE position(toString(`{column}`), %(needle)s) > 0"
            found[f"{table}.{column}"] = int(site.query(sql, {"needle": needle})[0][0])
        return {where: n for where, n in found.items() if n}

    assert hits(case_id), "the scan does find what is there"
    for name, value in contact.items():
        assert hits(value) == {}, name


def test_only_keys_that_may_call_back_see_the_contact(site: Site) -> None:
    email = f"caller.{uuid.uuid4().hex[:8]}@example.org"
    with site.client() as http:
        form = {
            "api_key": site.key("intake"),
            "service_code": "TREE",
            "address_string": "4 Garden Lane",
            "email": email,
        }
        case_id = http.post("/open311/v2/requests.json", data=form).json()[0]["service_request_id"]
        supervisor = {"X-API-Key": site.key("supervisor")}
        _wait(http, case_id, supervisor, "REPORTED")
        assert http.post(f"/api/v1/cases/{case_id}/register", json={}, headers=supervisor).status_code == 202
        _wait(http, case_id, supervisor, "REGISTERED")
        assert http.post(f"/api/v1/cases/{case_id}/dispatch", json={}, headers=supervisor).status_code == 202
        _wait(http, case_id, supervisor, "DISPATCHED")  # to parks, where TREE routes

        def contact(role: str) -> object:
            shown = http.get(f"/api/v1/cases/{case_id}", headers={"X-API-Key": site.key(role)})
            assert shown.status_code == 200
            assert email not in json.dumps(shown.json()["timeline"])  # never in the timeline
            return shown.json().get("contact", "hidden")

        assert json.loads(str(contact("supervisor"))) == {"email": email}
        assert json.loads(str(contact("department:parks"))) == {"email": email}  # its task: it calls back
        for role in ("department:roads", "intake", "dispatcher", "analyst"):
            assert contact(role) == "hidden", role
        # and Open311 answers never carry it
        public = http.get(f"/open311/v2/requests/{case_id}.json", params={"api_key": site.key("intake")})
        assert email not in public.text


def _wait(http: httpx.Client, case_id: str, headers: dict[str, str], state: str) -> None:
    poll(
        lambda: http.get(f"/api/v1/cases/{case_id}", headers=headers).json().get("state"),
        lambda s: s == state,
        f"{case_id} {state}",
    )
