"""An Open311 form to a CaseReported: each rule of the spec checked with the field named, the
contact sealed under the reporter's key (the event's bytes hold no plaintext), a stable
pseudonym per person."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from civicloop.api import catalogue, intake
from civicloop.api.errors import ApiError
from civicloop.privacy import KeyStore, unseal
from civicloop.schemas.codec import decode, encode

SERVICES = catalogue.load()
FORM = {"service_code": "POTHOLE", "lat": "39.3", "long": "-76.6", "attribute[SIZE]": "small"}


def parse(**changes: Any) -> intake.Submission:
    fields = {**FORM, **changes}
    pairs = [
        (k, v)
        for k, values in fields.items()
        if values is not None
        for v in (values if isinstance(values, list) else [values])
    ]
    return intake.parse(pairs, SERVICES)


@pytest.mark.parametrize(
    ("changes", "status", "field"),
    [
        ({"service_code": None}, 400, "service_code"),
        ({"service_code": "NOPE"}, 404, "service_code"),
        ({"jurisdiction_id": "other.gov"}, 404, "jurisdiction_id"),
        ({"lat": None, "long": None}, 400, "lat"),
        ({"long": None}, 400, "long"),
        ({"lat": "north"}, 400, "lat"),
        ({"long": "181"}, 400, "long"),
        ({"description": "x" * 4001}, 400, "description"),
        ({"email": "jane(at)example.org"}, 400, "email"),
        ({"phone": "call me"}, 400, "phone"),
        ({"media_url": "ftp://example.org/a.jpg"}, 400, "media_url"),
        ({"first_name": "Ja\x00ne"}, 400, "first_name"),
        ({"address_string": "1 Elm\nRoad"}, 400, "address_string"),
        ({"colour": "red"}, 400, "colour"),
        ({"description": ["one", "two"]}, 400, "description"),
        ({"attribute[SIZE]": None}, 400, "attribute[SIZE]"),
        ({"attribute[SIZE]": "huge"}, 400, "attribute[SIZE]"),
        ({"attribute[SIZE]": ["small", "large"]}, 400, "attribute[SIZE]"),
        ({"attribute[DEPTH]": "3"}, 400, "attribute[DEPTH]"),
    ],
)
def test_each_rule_names_its_field(changes: dict[str, Any], status: int, field: str) -> None:
    with pytest.raises(ApiError) as raised:
        parse(**changes)
    assert raised.value.status == status
    assert field in [p.field for p in raised.value.problems]


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(ApiError) as raised:
        parse(lat="95", email="nope", **{"attribute[SIZE]": "huge"})
    assert [p.field for p in raised.value.problems] == ["lat", "email", "attribute[SIZE]"]


def test_datatypes_of_attributes() -> None:
    garbage = {
        "service_code": "GARBAGE",
        "attribute[SIZE]": None,
        "attribute[WASTE][]": ["household", "bulky"],
    }
    assert parse(**garbage).attributes == {"WASTE": ["household", "bulky"]}
    with pytest.raises(ApiError, match="takes no answer"):
        parse(**garbage, **{"attribute[SAFETY]": "ok"})
    with pytest.raises(ApiError, match="not a number"):
        parse(service_code="STREETLIGHT", **{"attribute[LIGHTS_OUT]": "three", "attribute[SIZE]": None})
    with pytest.raises(ApiError, match="ISO 8601"):
        parse(service_code="WATER_LEAK", **{"attribute[SINCE]": "last week", "attribute[SIZE]": None})


def test_a_location_may_be_an_address_alone_and_the_channel_follows_the_device() -> None:
    by_address = parse(lat=None, long=None, address_string="12 Elm Road", device_id="phone-1")
    assert (by_address.lat, by_address.address, by_address.channel) == (None, "12 Elm Road", "app")
    assert parse(address_id="A-1").channel == "web"


def test_the_contact_is_sealed_and_the_reporter_pseudonymous(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path / "keys.sqlite")
    contact = {"email": "jane@example.org", "phone": "+1 410 555 0101", "first_name": "Jane"}
    submission = parse(**contact, description="hole by the school")

    event = intake.reported(
        submission,
        intake.reporter(submission, keys),
        case_id="sr-1",
        event_id="00000000-0000-4000-8000-000000000001",
        source="test",
        now=datetime.now(UTC),
    )
    wire = encode(event)

    for value in (*contact.values(), "jane"):
        assert value.encode() not in wire
    assert decode(wire)["description"] == "hole by the school"  # what the citizen reported stays readable
    ref = event["reporter_ref"]
    assert ref.startswith("rp-") and event["actor"] == {"type": "citizen", "id": ref}
    assert json.loads(unseal(keys, event["contact_ciphertext"], event["contact_key_id"]) or "") == contact
    # the same person (by e-mail, any case) gets the same pseudonym; another person another one

    def report(n: int, **fields: str) -> Any:
        event_id = f"00000000-0000-4000-8000-00000000000{n}"
        submission = parse(**fields)
        return intake.reported(
            submission,
            intake.reporter(submission, keys),
            case_id=f"sr-{n}",
            event_id=event_id,
            source="t",
            now=datetime.now(UTC),
        )

    assert (
        report(2, email="JANE@example.org")["reporter_ref"]
        == ref
        != report(3, email="joe@x.org")["reporter_ref"]
    )
    # an anonymous report carries no reporter and no contact
    anonymous = report(4)
    assert (anonymous["reporter_ref"], anonymous["contact_ciphertext"]) == (None, None)
    keys.close()
