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

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from civicloop.api.catalogue import Catalogue
from civicloop.api.projected import NothingProjected, Projections
from civicloop.projections.store.base import Row
from civicloop.projections.tables.schema import CASE_LIFECYCLE, EVENT_LOG
from civicloop.schemas.codec import decode
from civicloop.schemas.event import Event

CLOSED_STATES = ("CLOSED", "VOIDED")
_COLUMNS = (
    "case_id",
    "state",
    "category",
    "lead_department",
    "reported_at",
    "updated_at",
    "closed_at",
    "voided_at",
    "due_at",
    "lat",
    "lon",
    "closure_reason",
    "void_reason",
    "duplicate_of",
)
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


@dataclass(frozen=True)
class Query:
    """A GET requests search: ``ids`` override every other filter (as the spec says)."""

    start: datetime
    end: datetime
    categories: tuple[str, ...] | None = None  # None: every service
    statuses: tuple[str, ...] = ("open", "closed")
    page: int = 1
    page_size: int = 1000
    ids: tuple[str, ...] | None = None


def search(
    projections: Projections, query: Query, catalogue: Catalogue, public: bool = False
) -> list[dict[str, Any]]:
    """The service requests matching ``query``, newest first, one page (as a public read
    shows them when ``public``)."""
    where, params = _where(query)
    sql = (
        f"SELECT {', '.join(_COLUMNS)} FROM {projections.table(CASE_LIFECYCLE)} FINAL "
        f"WHERE {' AND '.join(where)} ORDER BY reported_at DESC, case_id "
        "LIMIT %(offset)s, %(limit)s"  # 18.16 reads the offset, count form
    )
    params |= {"offset": (query.page - 1) * query.page_size, "limit": query.page_size}
    try:
        rows = projections.query(sql, params)
        reports = _reports(projections, [str(row[0]) for row in rows])
    except NothingProjected:
        return []
    return [
        record(dict(zip(_COLUMNS, row, strict=True)), reports.get(str(row[0])), catalogue, public)
        for row in rows
    ]


def unknown_categories(projections: Projections, categories: tuple[str, ...]) -> list[str]:
    """Those of ``categories`` that no projected case has."""
    try:
        rows = projections.query(
            f"SELECT DISTINCT category FROM {projections.table(CASE_LIFECYCLE)} FINAL "
            "WHERE category IN %(categories)s",
            {"categories": categories},
        )
    except NothingProjected:
        rows = []
    seen = {str(row[0]) for row in rows}
    return [c for c in categories if c not in seen]


def _where(query: Query) -> tuple[list[str], dict[str, Any]]:
    if query.ids is not None:
        return ["case_id IN %(ids)s"], {"ids": query.ids}
    where = ["reported_at >= %(start)s", "reported_at <= %(end)s"]
    params: dict[str, Any] = {"start": query.start, "end": query.end, "closed": CLOSED_STATES}
    if query.categories is not None:
        where.append("category IN %(categories)s")
        params["categories"] = query.categories
    if set(query.statuses) == {"open"}:
        where.append("state NOT IN %(closed)s")
    elif set(query.statuses) == {"closed"}:
        where.append("state IN %(closed)s")
    return where, params


def _reports(projections: Projections, case_ids: list[str]) -> dict[str, Event]:
    """Each case's CaseReported, decoded from the event log (payload as hex: it is binary)."""
    if not case_ids:
        return {}
    rows: list[Row] = projections.query(
        f"SELECT case_id, hex(payload) FROM {projections.table(EVENT_LOG)} FINAL "
        "WHERE case_id IN %(ids)s AND type = 'CaseReported'",
        {"ids": tuple(case_ids)},
    )
    return {str(case_id): decode(bytes.fromhex(str(payload))) for case_id, payload in rows}


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
