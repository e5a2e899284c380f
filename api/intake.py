"""An Open311 ``POST requests`` form, checked field by field, turned into a ``CaseReported``.

Every problem is collected and answered at once (400, each naming its field and value); an
unknown ``service_code`` or ``jurisdiction_id`` is 404, as the spec says. A point is
placed in its district and grid cell by the deployment's boundaries (``place``); one outside
the service area is refused (400) unless the deployment accepts it. The reporter's
contact (e-mail, phone, names, account and device ids) never enters the event in plaintext:
it is sealed under the reporter's own key exactly as the SDK does (civicloop/privacy.py), and
the reporter is known by a pseudonym.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

from civicloop.api import attributes, text
from civicloop.api.catalogue import Catalogue, Service
from civicloop.api.errors import ApiError, Problem, bad_request, not_found, shorten
from civicloop.geography import Boundaries
from civicloop.privacy import KeyStore, pseudonym, seal
from civicloop.schemas.event import Event
from civicloop.schemas.events import new_event
from civicloop.schemas.limits import MAX_ID, MAX_TEXT

#: the form fields of POST Service Request (GeoReport v2), each at most once
FIELDS = frozenset(
    {
        "api_key",
        "jurisdiction_id",
        "service_code",
        "lat",
        "long",
        "address_string",
        "address_id",
        "email",
        "device_id",
        "account_id",
        "first_name",
        "last_name",
        "phone",
        "description",
        "media_url",
    }
)
CONTACT = ("email", "phone", "first_name", "last_name", "account_id", "device_id")
#: the identity a pseudonym is made from, most stable first
IDENTITY = ("account_id", "email", "phone", "device_id")
_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]{1,100})\](\[\])?$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ().\-]{3,40}$")
#: longest accepted value per field (characters): what the event's field may hold
#: (schemas/limits.py); description follows Open311 (4,000)
LIMITS = {
    "description": MAX_TEXT["description"],
    "media_url": MAX_TEXT["media_url"],
    "address_string": MAX_TEXT["location.address"],
    "address_id": MAX_ID,
    "email": 254,
}
DEFAULT_LIMIT = 200


@dataclass
class Submission:
    """A checked Open311 request, ready to become a CaseReported."""

    service: Service
    description: str
    lat: float | None = None
    lon: float | None = None
    district: str | None = None
    grid: str | None = None
    address: str | None = None
    address_id: str | None = None
    media_url: str | None = None
    account_id: str | None = None
    contact: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, list[str]] = field(default_factory=dict)
    channel: str = "web"


def parse(pairs: Iterable[tuple[str, Any]], catalogue: Catalogue) -> Submission:
    """The checked submission, or an ApiError naming every field that is wrong."""
    problems: list[Problem] = []
    single: dict[str, str] = {}
    answers: dict[str, list[str]] = {}
    multi: set[str] = set()
    for name, value in pairs:
        if not isinstance(value, str):
            problems.append(Problem(f"{name}: expected text, got a file upload", name))
            continue
        match = _ATTRIBUTE.match(name)
        if match:
            code = match[1]
            answers.setdefault(code, []).append(value)
            if match[2]:
                multi.add(code)
        elif name not in FIELDS:
            problems.append(
                Problem(
                    f"unknown field {shorten(name)}: Open311 POST requests takes "
                    f"{', '.join(sorted(FIELDS))} and attribute[CODE]",
                    name,
                )
            )
        elif name in single:
            problems.append(Problem(f"{name} was given more than once", name))
        else:
            single[name] = value
    for name, value in single.items():
        problems += _text_problems(name, value)
    service = _service(single, catalogue)
    submission = Submission(service=service, description=single.get("description", "").strip())
    problems += _location(single, submission)
    problems += _contact(single, submission)
    answered, wrong = attributes.checked(service, answers, multi)
    submission.attributes = answered
    problems += wrong
    if problems:
        raise ApiError(400, problems)
    return submission


def _service(single: dict[str, str], catalogue: Catalogue) -> Service:
    wanted = catalogue.jurisdiction_id
    given = single.get("jurisdiction_id", "").strip()
    if given and wanted and given != wanted:
        raise not_found(
            f"jurisdiction_id {shorten(given)} not found: this endpoint serves {wanted!r}", "jurisdiction_id"
        )
    code = single.get("service_code", "").strip()
    if not code:
        raise ApiError(400, [Problem("service_code is required (see GET services)", "service_code")])
    service = catalogue.service(code)
    if service is None:
        raise not_found(f"service_code {shorten(code)} not found (see GET services)", "service_code")
    return service


def _text_problems(name: str, value: str) -> list[Problem]:
    limit = LIMITS.get(name, DEFAULT_LIMIT)
    if len(value) > limit:
        return [Problem(f"{name} is {len(value)} characters long; at most {limit} are allowed", name)]
    wrong = text.problem(value, multiline=name == "description")
    if wrong:
        return [Problem(f"{name} {shorten(value)} {wrong}", name)]
    return []


def _location(single: dict[str, str], out: Submission) -> list[Problem]:
    lat, lon = single.get("lat", "").strip(), single.get("long", "").strip()
    out.address = single.get("address_string", "").strip() or None
    out.address_id = single.get("address_id", "").strip() or None
    problems = []
    if lat or lon:
        if not (lat and lon):
            missing = "long" if lat else "lat"
            return [Problem(f"lat and long go together: {missing} is missing", missing)]
        out.lat, bad_lat = _degrees("lat", lat, 90.0)
        out.lon, bad_lon = _degrees("long", lon, 180.0)
        problems += bad_lat + bad_lon
    elif out.address is None and out.address_id is None:
        problems.append(Problem("a location is required: lat and long, address_string or address_id", "lat"))
    return problems


def _degrees(name: str, given: str, limit: float) -> tuple[float | None, list[Problem]]:
    value = text.number(given)
    if value is None:
        return None, [
            Problem(f"{name} {shorten(given)} is not a number (WGS84 degrees in ASCII digits)", name)
        ]
    if not -limit <= value <= limit:
        return None, [Problem(f"{name} {shorten(given)} must be between {-limit:g} and {limit:g}", name)]
    return value, []


def place(submission: Submission, boundaries: Boundaries, accept_outside: bool) -> None:
    """Set the submission's district and grid from its coordinates; a point in no district
    is a 400 naming it, unless ``accept_outside`` (then it has neither)."""
    if submission.lat is None or submission.lon is None:
        return  # an address alone: nothing to place it by (no geocoding)
    found = boundaries.locate(submission.lat, submission.lon)
    if found is None and not accept_outside:
        west, south, east, north = boundaries.bounds
        raise bad_request(
            f"lat {submission.lat:g}, long {submission.lon:g} is outside the service area: reports "
            f"are taken within the city's districts (latitude {south:g} to {north:g}, longitude "
            f"{west:g} to {east:g})",
            "lat",
            "out_of_area",
        )
    if found is not None:
        submission.district, submission.grid = found.district, found.grid


def _contact(single: dict[str, str], out: Submission) -> list[Problem]:
    problems = []
    out.contact = {name: value for name in CONTACT if (value := single.get(name, "").strip())}
    out.account_id = out.contact.get("account_id")
    out.channel = "app" if "device_id" in out.contact else "web"
    email, phone = out.contact.get("email"), out.contact.get("phone")
    if email is not None and not _EMAIL.match(email):
        problems.append(Problem(f"email {shorten(email)} is not an e-mail address", "email"))
    if phone is not None and (not _PHONE.match(phone) or sum(c.isdigit() for c in phone) < 3):
        problems.append(Problem(f"phone {shorten(phone)} is not a phone number", "phone"))
    media = single.get("media_url", "").strip()
    if media:
        if not _web_url(media):
            problems.append(Problem(f"media_url {shorten(media)} is not an http(s) URL", "media_url"))
        out.media_url = media
    return problems


def note_language(submission: Submission, accept_language: str) -> None:
    """Keep the reporter's language (the request's first Accept-Language, en or zh) in the
    sealed contact, for the notifier's messages to them (docs/NOTIFY.md); only when there is a
    contact, so an anonymous report stays one."""
    first = accept_language.split(",")[0].split(";")[0].strip().lower()
    language = next((lang for lang in ("en", "zh") if first.startswith(lang)), None)
    if submission.contact and language:
        submission.contact["language"] = language


def _web_url(url: str) -> bool:
    try:
        parsed = urlparse(url)
        parsed.port  # noqa: B018 -- reading it checks it (a bad port or IPv6 literal raises)
    except ValueError:  # e.g. an IPv6 literal without its closing bracket: http://[::1
        return False
    return parsed.scheme in ("http", "https") and bool(parsed.hostname) and " " not in url


@dataclass(frozen=True)
class Reporter:
    """Who reported, pseudonymously, and their contact as the event's sealed fields."""

    ref: str | None
    sealed: dict[str, Any]


ANONYMOUS = Reporter(None, {})


def reporter(submission: Submission, keys: KeyStore) -> Reporter:
    """The reporter's pseudonym and sealed contact: the only step that uses the key store
    (SQLite, and a commit for a new reporter), so the only one to run under its lock."""
    contact = submission.contact
    if not contact:
        return ANONYMOUS
    identity = next((f"{name}:{contact[name]}" for name in IDENTITY if name in contact), None)
    # Names alone identify nobody reliably: such a report gets a ref (and key) of its own.
    ref = pseudonym(keys, identity) if identity else "rp-" + uuid.uuid4().hex
    ciphertext, key_id = seal(keys, ref, json.dumps(contact, ensure_ascii=False, sort_keys=True))
    return Reporter(ref, {"contact_ciphertext": ciphertext, "contact_key_id": key_id})


def reported(
    submission: Submission, who: Reporter, *, case_id: str, event_id: str, source: str, now: datetime
) -> Event:
    """The CaseReported for ``submission`` by ``who``, validated by the SDK."""
    return new_event(
        "CaseReported",
        case_id=case_id,
        event_id=event_id,
        actor={"type": "citizen", "id": who.ref or "anonymous"},
        source=source,
        occurred_at=now,
        channel=submission.channel,
        category=submission.service.category,
        description=submission.description,
        location={
            "lat": submission.lat,
            "lon": submission.lon,
            "address": submission.address,
            "district": submission.district,
            "grid_id": submission.grid,
        },
        priority=submission.service.priority,
        reporter_ref=who.ref,
        media_url=submission.media_url,
        address_id=submission.address_id,
        attributes=submission.attributes or None,
        **who.sealed,
    )
