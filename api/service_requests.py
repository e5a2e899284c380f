"""Open311 service requests, read from the projections: the case's lifecycle row for status and
times, its ``CaseReported`` (from the event log) for what the reporter wrote.

``status`` is ``closed`` for a closed or voided case (a voided duplicate is "closed:
Duplicate request" in the spec's own example), ``open`` otherwise; ``updated_datetime`` is the
close (or void) time when closed, else the time of the case's latest event; ``expected_datetime``
is the dispose-by deadline in force; ``agency_responsible`` the lead department.

A public read (no key) never shows what the reporter wrote or sent for a service the catalogue
marks private: its ``description`` and ``media_url`` are empty. No read carries a contact.
"""

from __future__ import annotations

from typing import Any

from civicloop.api.catalogue import Catalogue
from civicloop.api.projected import NothingProjected, Projections
from civicloop.projections.read_model import cases, requests
from civicloop.projections.read_model.requests import CLOSED_STATES
from civicloop.projections.read_model.requests import Search as Query  # the API's name for it
from civicloop.schemas.event import Event

#: status_notes per lifecycle state ({lead} is the lead department)
NOTES = {
    "REPORTED": "Received; waiting to be registered.",
    "REGISTERED": "Registered; waiting to be dispatched.",
    "DISPATCHED": "Dispatched to {lead}.",
    "IN_PROGRESS": "{lead} is working on it.",
    "RETURNED": "Sent back by the department; being dispatched again.",
    "DISPOSED": "{lead} reports the work done; waiting for a check.",
    "CHECKED": "The work was checked on site; waiting to be closed.",
    "REOPENED": "Reopened.",
    "CLOSED": "Closed: {closure_reason}.",
    "VOIDED": "Not taken up: {void_reason}.",
}
_VOID_NOTES = {
    "duplicate": "Duplicate request (of {duplicate_of})",
    "invalid": "invalid report",
    "out_of_scope": "not the city's responsibility",
}


def search(
    projections: Projections, query: Query, catalogue: Catalogue, public: bool = False
) -> list[dict[str, Any]]:
    """The service requests matching ``query``, newest first, one page (as a public read
    shows them when ``public``)."""
    p = projections
    try:
        rows = requests.found(p.query, p.database, query)
        reports = cases.reports(p.query, p.database, [str(row["case_id"]) for row in rows])
    except NothingProjected:
        return []
    return [record(row, reports.get(str(row["case_id"])), catalogue, public) for row in rows]


def unknown_categories(projections: Projections, categories: tuple[str, ...]) -> list[str]:
    """Those of ``categories`` that no projected case has."""
    try:
        seen = requests.categories_with_cases(projections.query, projections.database, categories)
    except NothingProjected:
        seen = set()
    return [c for c in categories if c not in seen]


def record(
    row: dict[str, Any], report: Event | None, catalogue: Catalogue, public: bool = False
) -> dict[str, Any]:
    """One Open311 ``request`` from a lifecycle row and its CaseReported (None: not found)."""
    service = catalogue.by_category(str(row["category"]))
    shown = report if not (public and service is not None and service.private) else None
    state = str(row["state"])
    closed = state in CLOSED_STATES
    location = report["location"] if report else {}
    lead = row["lead_department"] or None
    return {
        "service_request_id": row["case_id"],
        "status": "closed" if closed else "open",
        "status_notes": _notes(row),
        "service_name": service.name if service else row["category"],
        "service_code": service.code if service else row["category"],
        "description": shown["description"] if shown else None,
        "agency_responsible": lead,
        "service_notice": service.notice if service else None,
        "requested_datetime": row["reported_at"],
        "updated_datetime": (row["closed_at"] or row["voided_at"] if closed else None) or row["updated_at"],
        "expected_datetime": row["due_at"],
        "address": location.get("address"),
        "address_id": report.get("address_id") if report else None,
        "zipcode": None,
        "lat": row["lat"],
        "long": row["lon"],
        "media_url": shown.get("media_url") if shown else None,
    }


def _notes(row: dict[str, Any]) -> str:
    reason = str(row.get("void_reason") or "")
    void = _VOID_NOTES.get(reason, reason.replace("_", " "))
    values = {
        "lead": row.get("lead_department") or "the department",
        "closure_reason": str(row.get("closure_reason") or "").replace("_", " "),
        "void_reason": void.format(duplicate_of=row.get("duplicate_of") or "another request"),
    }
    state = str(row["state"])
    return NOTES.get(state, state).format(**values)
