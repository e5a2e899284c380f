"""The generic importer: a TOML file describes another city's export."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

import pytest

from civicloop.projections.fold.casestate import CaseState
from civicloop.projections.fold.lifecycle import fold
from civicloop.projections.tables.rows import case_row
from civicloop.tools.ingest import baltimore311, mapping, nyc311
from civicloop.tools.ingest.mapping import MappingError, check_mapping, load_mapping
from tests.data import BALTIMORE_SAMPLE

SAMPLE = BALTIMORE_SAMPLE

BALTIMORE_TOML = """
importer = "baltimore311"
city = "bal"
timezone = "America/New_York"
date_formats = ["%m/%d/%Y %I:%M:%S %p"]
placeholder_coordinates = [[39.0, -77.0]]

[columns]
case_id = "ServiceRequestNum"
created = "CreatedDate"
status = "SRStatus"
category = "SRType"
closed = "CloseDate"
due = "DueDate"
status_date = "StatusDate"
agency = "Agency"
channel = "MethodReceived"
address = "Address"
lat = "Latitude"
lon = "Longitude"
district = "CouncilDistrict"
grid = "Neighborhood"

[statuses]
Closed = "closed"
"Closed (Transferred)" = "transferred"
"Closed (Duplicate)" = "duplicate"
"Open (Duplicate)" = "duplicate"
"New (Duplicate)" = "duplicate"
Open = "open"
New = "open"
Pending = "open"
"In Progress" = "open"

[channels]
phone = "hotline"
api = "app"
web = "web"
email = "email"
mail = "other"
internal = "internal"
system = "internal"
"""

SPRINGFIELD_TOML = """
importer = "springfield311"
city = "spr"
timezone = "America/Chicago"
date_formats = ["%Y-%m-%d %H:%M"]
placeholder_coordinates = [[0.0, 0.0]]
null_values = ["", "N/A"]
resolution_rules = [["no action", "no_further_action"]]

[columns]
case_id = "SR_NUMBER"
created = "OPENED"
status = "STATE"
category = "TYPE"
closed = "CLOSED"
due = "SLA_DUE"
agency = "OWNER"
channel = "ORIGIN"
lat = "Y"
lon = "X"
district = "WARD"
resolution = "NOTES"

[statuses]
Completed = "closed"
Canceled = "duplicate"
Open = "open"

[channels]
"Phone Call" = "hotline"
"Mobile App" = "app"
"""

SPRINGFIELD_CSV = "\n".join(
    [
        "SR_NUMBER,OPENED,STATE,TYPE,CLOSED,SLA_DUE,OWNER,ORIGIN,Y,X,WARD,NOTES",
        "SR-1,2021-07-01 08:00,Completed,Graffiti,2021-07-02 09:30,2021-07-08 08:00,Streets,"
        "Phone Call,41.88,-87.63,42,painted over",
        "SR-2,2021-07-01 09:00,Completed,Pothole,2021-07-01 10:00,N/A,Transportation,"
        "Mobile App,0,0,N/A,no action needed",
        "SR-3,2021-07-01 10:00,Open,Rodents,,2021-07-15 10:00,Sanitation,Fax,41.9,-87.7,1,",
        "SR-4,2021-07-01 11:00,Completed,Graffiti,2021-07-01 12:00,2021-07-08 11:00,Streets,"
        "Phone Call,41.88,-87.63,42,merged into SR-1",
        "SR-5,07/01/2021 11:00,Open,Graffiti,,,Streets,Phone Call,41.88,-87.63,42,",
        "SR-6,2021-07-01 12:00,Canceled,Graffiti,2021-07-01 12:30,2021-07-08 12:00,Streets,"
        "Phone Call,41.88,-87.63,42,",
        "",
    ]
)


def test_a_toml_mapping_reproduces_the_builtin_baltimore_importer(tmp_path: Path) -> None:
    head = tmp_path / "head.csv"
    with open(SAMPLE, encoding="utf-8-sig", newline="") as src:
        head.write_text("".join(islice(src, 400)), encoding="utf-8")
    (tmp_path / "bal.toml").write_text(BALTIMORE_TOML, encoding="utf-8")

    generic = mapping.read(head, tmp_path / "bal.toml")
    builtin = baltimore311.read(head)

    assert [e.fields for e in generic] == [e.fields for e in builtin]
    assert generic.report.as_dict() == builtin.report.as_dict()


def test_another_city_with_its_own_columns_formats_and_zone(tmp_path: Path) -> None:
    (tmp_path / "spr.toml").write_text(SPRINGFIELD_TOML, encoding="utf-8")
    (tmp_path / "spr.csv").write_text(SPRINGFIELD_CSV, encoding="utf-8")

    result = mapping.read(tmp_path / "spr.csv", tmp_path / "spr.toml")
    events = list(result)

    by_type = {(e.case_id, e.type): e for e in events}
    assert by_type["spr-SR-1", "CaseReported"].occurred_at == datetime(2021, 7, 1, 13, 0, tzinfo=UTC)
    assert by_type["spr-SR-1", "CaseReported"]["channel"] == "hotline"
    assert by_type["spr-SR-1", "CaseClosed"]["reason"] == "resolved"
    assert by_type["spr-SR-2", "CaseClosed"]["reason"] == "no_further_action"
    assert by_type["spr-SR-2", "CaseReported"]["location"]["lat"] is None  # (0, 0) placeholder
    # no due date ("N/A"): still dispatched to its agency, without a deadline
    no_due = by_type["spr-SR-2", "TaskDispatched"]
    assert (no_due["department"], no_due["accept_by"], no_due["dispose_by"]) == ("Transportation", None, None)
    due = by_type["spr-SR-1", "TaskDispatched"]
    assert (due["department"], due["accept_by"]) == ("Streets", None)
    assert due["dispose_by"] == datetime(2021, 7, 8, 13, 0, tzinfo=UTC)
    assert by_type["spr-SR-3", "CaseReported"]["channel"] == "other"  # unmapped channel
    # "merged into SR-1" is free text: it decides nothing, the row closes like any other
    assert by_type["spr-SR-4", "CaseClosed"]["reason"] == "resolved"
    assert ("spr-SR-4", "CaseVoided") not in by_type
    # the status says duplicate: voided at the close time, before dispatch, naming its agency
    voided = by_type["spr-SR-6", "CaseVoided"]
    assert (voided["reason"], voided["department"]) == ("invalid", "Streets")
    assert voided.occurred_at == datetime(2021, 7, 1, 17, 30, tzinfo=UTC)
    assert ("spr-SR-6", "TaskDispatched") not in by_type and ("spr-SR-6", "CaseClosed") not in by_type
    assert result.report.unmapped == {
        "missing_due_date": 1,
        "placeholder_coordinates": 1,
        "duplicate_status": 1,
        "unparseable_date:OPENED": 1,
    }


def test_the_timezone_argument_overrides_the_mapping(tmp_path: Path) -> None:
    (tmp_path / "spr.toml").write_text(SPRINGFIELD_TOML, encoding="utf-8")
    (tmp_path / "spr.csv").write_text(SPRINGFIELD_CSV, encoding="utf-8")

    first = next(iter(mapping.read(tmp_path / "spr.csv", tmp_path / "spr.toml", tz="UTC")))
    assert first.occurred_at == datetime(2021, 7, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('Open = "open"', 'Open = "maybe"'), "statuses"),
        (('"Mobile App" = "app"', '"Mobile App" = "smartphone"'), "channels"),
        (('"no action", "no_further_action"', '"no action", "fixed"'), "resolution_rules"),
        (('case_id = "SR_NUMBER"\n', ""), "case_id"),
        (('city = "spr"\n', ""), "city"),
        (('["no action", "no_further_action"]', '["merged into", "duplicate"]'), "never makes a duplicate"),
    ],
)
def test_a_bad_mapping_says_what_is_wrong(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(SPRINGFIELD_TOML.replace(*change), encoding="utf-8")

    with pytest.raises(MappingError, match=message):
        load_mapping(path)


def test_the_builtin_mappings_name_only_known_symbols() -> None:
    check_mapping(baltimore311.MAPPING)
    check_mapping(nyc311.MAPPING)


def test_a_task_is_dispatched_whenever_the_agency_is_known(tmp_path: Path) -> None:
    # given rows with a due date, without one, with one before creation, and without an agency
    (tmp_path / "spr.toml").write_text(SPRINGFIELD_TOML, encoding="utf-8")
    (tmp_path / "spr.csv").write_text(
        "\n".join(
            [
                "SR_NUMBER,OPENED,STATE,TYPE,CLOSED,SLA_DUE,OWNER,ORIGIN,Y,X,WARD,NOTES",
                "D-1,2021-07-01 08:00,Completed,Graffiti,2021-07-02 09:30,2021-07-08 08:00,Streets,,,,,",
                "D-2,2021-07-01 08:00,Completed,Graffiti,2021-07-02 09:30,,Streets,,,,,",
                "D-3,2021-07-01 08:00,Completed,Graffiti,2021-07-02 09:30,2021-06-30 08:00,Streets,,,,,",
                "D-4,2021-07-01 08:00,Completed,Graffiti,2021-07-02 09:30,2021-07-08 08:00,,,,,,",
                "",
            ]
        ),
        encoding="utf-8",
    )
    # when imported
    result = mapping.read(tmp_path / "spr.csv", tmp_path / "spr.toml")
    events = list(result)
    # then D-1..D-3 are dispatched to Streets (a deadline only when the due date is usable),
    # D-4 is not dispatched, none has an accept-by, and every case still closes and folds
    tasks = {e.case_id: e for e in events if e.type == "TaskDispatched"}
    assert {c: (t["department"], t["accept_by"], t["dispose_by"]) for c, t in tasks.items()} == {
        "spr-D-1": ("Streets", None, datetime(2021, 7, 8, 13, 0, tzinfo=UTC)),
        "spr-D-2": ("Streets", None, None),
        "spr-D-3": ("Streets", None, None),
    }
    assert result.report.unmapped == {
        "missing_due_date": 1,
        "due_before_create": 1,
        "missing_agency": 1,
        "missing_coordinates": 4,
    }
    assert sum(e.type == "CaseClosed" for e in events) == 4
    cases: dict[str, CaseState | None] = {}
    for event in events:
        cases[event.case_id] = fold(cases.get(event.case_id), event)
    assert {c: case_row(s)["due_at"] for c, s in cases.items() if s} == {
        "spr-D-1": datetime(2021, 7, 8, 13, 0, tzinfo=UTC),
        "spr-D-2": None,
        "spr-D-3": None,
        "spr-D-4": None,
    }


def test_a_case_id_repeated_in_the_file_imports_its_first_row_only(tmp_path: Path) -> None:
    # SR-1 again, reported at another time with other facts; then exactly the same row again.
    # Its events would carry SR-1's event ids with other facts (copies the log dead-letters),
    # or be a second CaseReported of one case: counted, never imported, never a case more.
    lines = SPRINGFIELD_CSV.splitlines()
    again = "SR-1,2021-07-03 08:00,Open,Pothole,,,Transportation,Mobile App,41.9,-87.6,3,"
    (tmp_path / "spr.toml").write_text(SPRINGFIELD_TOML, encoding="utf-8")
    (tmp_path / "spr.csv").write_text("\n".join([*lines, again, lines[1], ""]), encoding="utf-8")

    result = mapping.read(tmp_path / "spr.csv", tmp_path / "spr.toml")
    events = list(result)

    first = [e for e in events if e.case_id == "spr-SR-1"]
    assert [e.type for e in first] == ["CaseReported", "CaseRegistered", "TaskDispatched", "CaseClosed"]
    assert first[0]["category"] == "Graffiti"
    assert len({e.event_id for e in events}) == len(events), "no event id twice"
    assert result.report.unmapped["repeated_case_id"] == 2
    assert result.report.rows_read == 8
    assert result.report.cases_imported == 5  # SR-1, 2, 3, 4, 6 (SR-5's date is unparseable)
