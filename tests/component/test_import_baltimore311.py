"""Baltimore 311 import, reconciled against an independent reading of the real sample file."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from civicloop.projections.fold.casestate import CaseState
from civicloop.projections.fold.lifecycle import fold
from civicloop.projections.metrics.closed_loop import metrics
from civicloop.projections.tables.rows import case_row, task_rows
from civicloop.schemas.event import Event
from civicloop.tools.ingest import ImportResult, baltimore311
from tests.data import BALTIMORE_SAMPLE
from tests.support.chdb_support import Chdb
from tests.support.rows import write_rows

SAMPLE = BALTIMORE_SAMPLE
pytestmark = pytest.mark.skipif(not SAMPLE.exists(), reason=f"no sample data at {SAMPLE}")

FORMAT = "%m/%d/%Y %I:%M:%S %p"
EASTERN = ZoneInfo("America/New_York")


def instant(text: str) -> datetime:
    """Independent of the importer's parser: strptime, then the same documented DST rule."""
    return datetime.strptime(text, FORMAT).replace(tzinfo=EASTERN).astimezone(UTC)


def is_duplicate(row: dict[str, str]) -> bool:
    return row["SRStatus"].endswith("(Duplicate)")


def closes(row: dict[str, str]) -> bool:
    """docs/DESIGN.md §6: a close time (at or after creation) closes a row whatever its status
    says; a duplicate is voided instead. (The sample has no close time before creation.)"""
    return bool(row["CloseDate"]) and not is_duplicate(row)


def expected_by_agency(rows: list[dict[str, str]]) -> dict[str, Counter[str]]:
    """Per agency, straight from the file: every row is reported under its agency, duplicates
    included; due only for a non-duplicate with a due date (a duplicate is never dispatched);
    on time (close <= due) only for closed rows with a due date."""
    expected: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        counts = expected[r["Agency"]]
        counts["reported"] += 1
        counts["due"] += bool(r["DueDate"]) and not is_duplicate(r)
        if closes(r):
            counts["closed"] += 1
            if r["DueDate"]:
                counts["closed_on_time"] += instant(r["CloseDate"]) <= instant(r["DueDate"])
    return expected


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    with open(SAMPLE, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def imported() -> tuple[list[Event], ImportResult]:
    result = baltimore311.read(SAMPLE)
    return list(result), result


@pytest.fixture(scope="module")
def folded(imported: tuple) -> list[CaseState]:
    cases: dict[str, CaseState | None] = {}
    for event in imported[0]:
        cases[event.case_id] = fold(cases.get(event.case_id), event)
    return [c for c in cases.values() if c is not None]


def test_every_row_becomes_a_case(rows: list[dict[str, str]], imported: tuple) -> None:
    events, result = imported
    assert result.report.rows_read == len(rows) == 10_000
    assert result.report.cases_imported == len({e.case_id for e in events}) == 10_000
    assert result.report.events_by_type == Counter(e.type for e in events)


def test_report_counts_the_known_quirks(rows: list[dict[str, str]], imported: tuple) -> None:
    report = imported[1].report

    assert report.unmapped["missing_due_date"] == sum(not r["DueDate"] for r in rows) == 286
    assert report.unmapped["missing_coordinates"] == sum(not r["Latitude"] for r in rows) == 590
    # The README says 892 placeholder rows; the file itself has 885 at exactly (39, -77).
    placeholders = sum(r["Latitude"] == "39" and r["Longitude"] == "-77" for r in rows)
    assert report.unmapped["placeholder_coordinates"] == placeholders == 885
    assert report.unmapped["duplicate_status"] == sum(map(is_duplicate, rows))
    assert report.disagreements["missing_close_date_on_closed_status"] == sum(
        r["SRStatus"].startswith("Closed") and not r["CloseDate"] for r in rows
    )
    assert report.disagreements["close_before_create"] == 0  # README: none closes before creation
    assert report.statuses == Counter(r["SRStatus"] for r in rows)


def test_dst_gaps_are_counted_and_read_forward(rows: list[dict[str, str]], imported: tuple) -> None:
    events, result = imported
    gaps = [r for r in rows if r["DueDate"] and _in_gap(r["DueDate"])]

    assert result.report.adjusted["nonexistent_local_time:DueDate"] == len(gaps) == 2
    dispatched = {e.case_id: e for e in events if e.type == "TaskDispatched"}
    for row in gaps:
        # 02:43:56 does not exist on 11 March 2018; read with EST it is 07:43:56Z (03:43:56 EDT).
        due = dispatched[f"bal-{row['ServiceRequestNum']}"]["dispose_by"]
        assert due == instant(row["DueDate"]) and due.astimezone(EASTERN).hour == 3


def _in_gap(text: str) -> bool:
    naive = datetime.strptime(text, FORMAT)
    back = naive.replace(tzinfo=EASTERN).astimezone(UTC).astimezone(EASTERN)
    return back.replace(tzinfo=None) != naive


def test_every_row_with_an_agency_is_dispatched_to_it(rows: list[dict[str, str]], imported: tuple) -> None:
    # given the file's agencies; when imported; then each non-duplicate row has one lead task
    # for its agency, with the due date as dispose_by (None without one) and no accept-by
    events, report = imported[0], imported[1].report
    tasks = {e.case_id: e for e in events if e.type == "TaskDispatched"}
    kept = [r for r in rows if not is_duplicate(r)]

    assert len(tasks) == report.events_by_type["TaskDispatched"] == len(kept)
    for r in kept:
        task = tasks[f"bal-{r['ServiceRequestNum']}"]
        assert (task["department"], task["role"], task["accept_by"]) == (r["Agency"], "lead", None)
        assert task["dispose_by"] == (instant(r["DueDate"]) if r["DueDate"] else None)
    without_deadline = sum(t["dispose_by"] is None for t in tasks.values())
    assert without_deadline == sum(not r["DueDate"] for r in kept) == 277  # 286 - 9 duplicates


def test_per_agency_counts_match_an_independent_computation(
    rows: list[dict[str, str]], imported: tuple
) -> None:
    assert _agency_counts(imported[0]) == expected_by_agency(rows)


def test_per_agency_reported_counts_are_the_files_rows_per_agency(
    rows: list[dict[str, str]], imported: tuple
) -> None:
    # every row counts under its agency, duplicates included (docs/DESIGN.md §6)
    reported = Counter({a: c["reported"] for a, c in _agency_counts(imported[0]).items()})
    assert reported == Counter(r["Agency"] for r in rows)


def _agency_counts(events: list[Event]) -> dict[str, Counter[str]]:
    """From the events alone: per lead department (a voided duplicate: the department its
    void names), reported / due / closed / on time."""
    tasks = {e.case_id: e for e in events if e.type == "TaskDispatched"}
    voids = {e.case_id: e["department"] for e in events if e.type == "CaseVoided"}
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for task in tasks.values():
        counts[task["department"]]["reported"] += 1
        counts[task["department"]]["due"] += task["dispose_by"] is not None
    for department in voids.values():
        counts[department]["reported"] += 1
    for closed in (e for e in events if e.type == "CaseClosed" and e.case_id in tasks):
        task = tasks[closed.case_id]
        counts[task["department"]]["closed"] += 1
        if task["dispose_by"] is not None:  # no deadline: neither on time nor late
            counts[task["department"]]["closed_on_time"] += closed.occurred_at <= task["dispose_by"]
    return counts


def test_open_and_voided_cases_match_the_file(rows: list[dict[str, str]], imported: tuple) -> None:
    events = imported[0]
    ended = {e.case_id for e in events if e.type in ("CaseClosed", "CaseVoided")}
    still_open = {f"bal-{r['ServiceRequestNum']}" for r in rows} - ended

    assert sum(not r["CloseDate"] for r in rows) == 208  # README
    assert len(still_open) == sum(not r["CloseDate"] and not is_duplicate(r) for r in rows)
    voided = [e for e in events if e.type == "CaseVoided"]
    assert len(voided) == sum(map(is_duplicate, rows))
    assert all(e["reason"] == "invalid" and "Duplicate" in e["note"] for e in voided)
    by_case = {f"bal-{r['ServiceRequestNum']}": r["Agency"] for r in rows}
    assert all(e["department"] == by_case[e.case_id] for e in voided)


def test_one_row_maps_field_by_field(imported: tuple) -> None:
    # 18-00269879: Phone, created 04/12/2018 11:11:26 AM, due +1 day, closed 12:45:47 PM,
    # Transportation, Dorchester, council district 6, placeholder coordinates.
    case = [e for e in imported[0] if e.case_id == "bal-18-00269879"]

    assert [e.type for e in case] == ["CaseReported", "CaseRegistered", "TaskDispatched", "CaseClosed"]
    reported, _, task, closed = case
    assert reported.occurred_at == datetime(2018, 4, 12, 15, 11, 26, tzinfo=UTC)
    assert reported["channel"] == "hotline" and reported["category"] == "TRT-Traffic Signal Repairs"
    assert reported["location"] == {
        "lat": None,
        "lon": None,
        "grid_id": "Dorchester",
        "district": "6",
        "address": "3400 GARRISON BLVD, BALTIMORE, MD, 21215",
    }
    assert reported["actor"] == {"type": "importer", "id": "baltimore311"}
    assert task["department"] == "Transportation"
    assert task["dispose_by"] == datetime(2018, 4, 13, 15, 11, 26, tzinfo=UTC)
    assert task["accept_by"] is None  # the export has no accept step
    assert closed.occurred_at == datetime(2018, 4, 12, 16, 45, 47, tzinfo=UTC)
    assert closed["reason"] == "resolved"


def test_transferred_requests_close_as_referred(rows: list[dict[str, str]], imported: tuple) -> None:
    transferred = {f"bal-{r['ServiceRequestNum']}" for r in rows if r["SRStatus"] == "Closed (Transferred)"}
    reasons = Counter(e["reason"] for e in imported[0] if e.type == "CaseClosed" and e.case_id in transferred)
    assert reasons == {"referred": len(transferred)}


def test_reimport_gives_the_same_event_ids(imported: tuple) -> None:
    again = list(baltimore311.read(SAMPLE))
    assert [e.fields for e in again] == [e.fields for e in imported[0]]
    assert len({e.event_id for e in again}) == len(again)


def test_every_imported_case_folds(rows: list[dict[str, str]], folded: list[CaseState]) -> None:
    # given every imported case folded event by event with fold (a rejected event raises)
    # then each is a case of the file, and a row without a due date has a lead with no deadline
    no_due = {f"bal-{r['ServiceRequestNum']}" for r in rows if not r["DueDate"] and not is_duplicate(r)}
    assert len(folded) == len(rows)
    for case in folded:
        lead = case.lead
        if case.case_id in no_due:
            assert lead is not None and lead.dispose_by is None and lead.accept_by is None
            assert case_row(case)["due_at"] is None


def test_metrics_by_department_match_the_file(
    rows: list[dict[str, str]], folded: list[CaseState], tmp_path: Path
) -> None:
    # given the imported cases projected into chDB
    engine = Chdb(str(tmp_path / "chdb"))
    try:
        engine.create("bal")
        write_rows(engine, "bal", [case_row(c) for c in folded], [t for c in folded for t in task_rows(c)])
        # when the metrics are computed over all time, by department
        got = {
            g["group"]: g
            for g in metrics(engine.query, "bal", "department", now=datetime(2020, 1, 1, tzinfo=UTC))
        }
    finally:
        engine.close()
    # then each agency's figures are the file's, computed independently above
    expected = expected_by_agency(rows)
    keys = ("reported", "due", "closed", "closed_on_time")
    assert {a: {k: got[a][k] for k in keys} for a in expected} == {
        a: {k: c[k] for k in keys} for a, c in expected.items()
    }
    assert "" not in got  # every row has its agency, voided duplicates included
    duplicates = Counter(r["Agency"] for r in rows if is_duplicate(r))
    for agency in expected:  # imports carry no accept-by: no response rate, every task counted
        assert got[agency]["dispatched"] == expected[agency]["reported"] - duplicates[agency]
        assert got[agency]["lead_with_accept_by"] == 0
        assert got[agency]["response_rate"] is None
