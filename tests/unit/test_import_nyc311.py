"""NYC 311 import: each export variant in tests/data/nyc/ parses to the expected events."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from civicloop.projections.fold.casestate import CaseState
from civicloop.projections.fold.lifecycle import fold
from civicloop.projections.tables.rows import case_row
from civicloop.schemas.event import Event
from civicloop.tools.ingest import nyc311
from civicloop.tools.ingest.csvfile import MissingColumns

DATA = Path(__file__).parents[1] / "data" / "nyc"
ENVELOPE = ("event_id", "case_id", "occurred_at", "recorded_at", "actor", "source")
QUIET = (
    "reporter_ref",
    "contact_ciphertext",
    "contact_key_id",
    "priority",
    "deadline_policy",
    "location",
    "description",
    "category",
    "role",
    "task_id",
    "media_url",
    "address_id",
    "attributes",
)


def summary(events: list[Event]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(type, case, occurred_at Z, the fields that differ between rows) per event."""
    out = []
    for e in events:
        rest = {k: v for k, v in e.fields.items() if k not in ENVELOPE + QUIET}
        rest = {
            k: v.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(v, datetime) else v for k, v in rest.items()
        }
        out.append((e.type, e.case_id, e.occurred_at.strftime("%Y-%m-%dT%H:%M:%SZ"), rest))
    return out


def opened(case: str, at: str, channel: str, task: tuple[str, str | None] | None = None) -> list[tuple]:
    """Reported + registered, and with ``task`` = (agency, due date or None) dispatched to the
    agency: dispose_by = the due date (None: no deadline), accept_by always None."""
    events = [("CaseReported", case, at, {"channel": channel}), ("CaseRegistered", case, at, {})]
    if task:
        due = {"department": task[0], "accept_by": None, "dispose_by": task[1]}
        events.append(("TaskDispatched", case, at, due))
    return events


def test_iso_timestamps_with_resolution_descriptions() -> None:
    result = nyc311.read(DATA / "iso_2019.csv")
    events = list(result)

    assert summary(events) == [
        # EDT in June: 09:15 local is 13:15Z
        *opened("nyc-43000001", "2019-06-01T13:15:00Z", "hotline", ("NYPD", "2019-06-01T21:15:00Z")),
        ("CaseClosed", "nyc-43000001", "2019-06-01T15:02:30Z", {"reason": "resolved"}),
        # 02:30 on 10 March 2019 does not exist: read with EST, 07:30Z (03:30 EDT)
        *opened("nyc-43000002", "2019-03-10T07:30:00Z", "app", ("NYPD", "2019-03-10T14:30:00Z")),
        ("CaseClosed", "nyc-43000002", "2019-03-10T08:10:00Z", {"reason": "no_further_action"}),
        # 01:30 on 4 November 2018 happens twice: the first (EDT), 05:30Z
        *opened("nyc-43000003", "2018-11-04T05:30:00Z", "web", ("DOT", "2018-11-14T06:30:00Z")),
        ("CaseClosed", "nyc-43000003", "2018-11-05T14:00:00Z", {"reason": "resolved"}),
        # its resolution text mentions a duplicate, its status does not: free text decides
        # nothing (docs/DESIGN.md §6), so it is dispatched and closed like any other
        *opened("nyc-43000004", "2019-06-03T02:00:00Z", "hotline", ("NYPD", "2019-06-03T10:00:00Z")),
        ("CaseClosed", "nyc-43000004", "2019-06-03T03:30:00Z", {"reason": "resolved"}),
        # open, no due date: still dispatched to its agency, without a deadline
        *opened("nyc-43000005", "2019-06-03T12:00:00Z", "app", ("HPD", None)),
        # closed "1900-01-01", before it was created: not a closure
        *opened("nyc-43000006", "2019-06-04T14:00:00Z", "other", ("DSNY", "2019-06-11T14:00:00Z")),
        # status "Open" with a close time: the time decides, it closes (reason: other)
        *opened("nyc-43000007", "2019-06-05T13:00:00Z", "hotline", ("DSNY", "2019-06-12T13:00:00Z")),
        ("CaseClosed", "nyc-43000007", "2019-06-05T19:00:00Z", {"reason": "other"}),
    ]
    report = result.report
    assert report.rows_read == report.cases_imported == 7
    assert report.unmapped == {"missing_due_date": 1}
    assert report.disagreements == {"close_before_create": 1, "close_date_on_open_status": 1}
    assert report.adjusted == {
        "nonexistent_local_time:Created Date": 1,
        "ambiguous_local_time:Created Date": 1,
    }


def test_unspecified_borough_and_board_are_missing_not_places() -> None:
    events = {e.case_id: e for e in nyc311.read(DATA / "iso_2019.csv") if e.type == "CaseReported"}

    unspecified = events["nyc-43000005"]["location"]
    assert unspecified == {
        "lat": 40.65,
        "lon": -73.95,
        "address": "55 ERASMUS STREET",
        "grid_id": None,
        "district": None,
    }
    assert events["nyc-43000006"]["location"]["grid_id"] is None  # "Unspecified STATEN ISLAND"
    assert events["nyc-43000001"]["location"]["grid_id"] == "01 BROOKLYN"
    assert events["nyc-43000001"]["description"] == "Loud Music/Party"
    assert events["nyc-43000001"]["category"] == "Noise - Residential"


def test_twelve_hour_times_with_bom_and_crlf() -> None:
    raw = (DATA / "us12h_bom_crlf_2013.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw  # the fixture is what it claims
    result = nyc311.read(DATA / "us12h_bom_crlf_2013.csv")

    assert summary(list(result)) == [
        # 11:59:08 PM EST is 04:59:08Z the next day; 12:15:00 AM is a quarter past midnight
        *opened("nyc-27000001", "2013-12-26T04:59:08Z", "hotline", ("DOT", "2014-01-09T04:59:08Z")),
        ("CaseClosed", "nyc-27000001", "2013-12-26T05:15:00Z", {"reason": "resolved"}),
        # 12:05:00 PM is noon; "Closed" without a Closed Date stays open
        *opened("nyc-27000002", "2013-12-31T17:05:00Z", "web", ("HPD", "2014-01-10T17:05:00Z")),
    ]
    assert result.report.rows_read == 3 and result.report.cases_imported == 2
    assert result.report.unmapped == {"unparseable_date:Created Date": 1}
    assert result.report.disagreements == {"missing_close_date_on_closed_status": 1}


def test_old_export_two_digit_years_and_24_hour_times() -> None:
    result = nyc311.read(DATA / "us24h_2digit_old_2018.csv")

    assert summary(list(result)) == [
        # "10/21/18 0:15" EDT
        *opened("nyc-40000001", "2018-10-21T04:15:00Z", "hotline", ("NYPD", "2018-10-28T04:15:00Z")),
        ("CaseClosed", "nyc-40000001", "2018-10-21T17:40:00Z", {"reason": "resolved"}),
        *opened("nyc-40000002", "2018-10-22T21:05:00Z", "web", ("DOT", None)),  # no due date
        # ambiguous 1:30 and 1:45 read as EDT; "9:30" is after the change, EST
        *opened("nyc-40000003", "2018-11-04T05:30:00Z", "app", ("NYPD", "2018-11-04T14:30:00Z")),
        ("CaseClosed", "nyc-40000003", "2018-11-04T05:45:00Z", {"reason": "resolved"}),
    ]
    report = result.report
    assert report.missing_columns == ["Resolution Description"]
    assert report.unmapped == {"missing_coordinates": 1, "missing_due_date": 1}
    assert report.adjusted == {"ambiguous_local_time:Created Date": 1, "ambiguous_local_time:Closed Date": 1}


def test_event_ids_are_stable_across_imports_and_distinct_within_one() -> None:
    first = [e.event_id for e in nyc311.read(DATA / "iso_2019.csv")]
    again = [e.event_id for e in nyc311.read(DATA / "iso_2019.csv")]

    assert first == again and len(set(first)) == len(first)


def test_timezone_is_configurable() -> None:
    events = list(nyc311.read(DATA / "iso_2019.csv", tz="UTC"))
    assert events[0].occurred_at == datetime(2019, 6, 1, 9, 15, tzinfo=UTC)


def test_a_file_without_the_key_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("id,created\n1,2019-01-01T00:00:00\n", encoding="utf-8")

    with pytest.raises(MissingColumns, match="Unique Key"):
        nyc311.read(path)


def test_imported_cases_fold() -> None:
    # given every fixture; when each case is folded event by event (a rejected event raises)
    rows = {}
    for name in ("iso_2019.csv", "us12h_bom_crlf_2013.csv", "us24h_2digit_old_2018.csv"):
        cases: dict[str, CaseState | None] = {}
        for event in nyc311.read(DATA / name):
            cases[event.case_id] = fold(cases.get(event.case_id), event)
        rows.update({c: case_row(s) for c, s in cases.items() if s})
    # then a request without a due date is its agency's, with no deadline (never overdue)
    assert {
        c: (r["lead_department"], r["due_at"], r["accept_by"])
        for c, r in rows.items()
        if c in ("nyc-43000005", "nyc-40000002", "nyc-43000001")
    } == {
        "nyc-43000005": ("HPD", None, None),
        "nyc-40000002": ("DOT", None, None),
        "nyc-43000001": ("NYPD", datetime(2019, 6, 1, 21, 15, tzinfo=UTC), None),
    }
