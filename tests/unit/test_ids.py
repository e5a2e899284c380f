"""Ids follow one rule everywhere (schemas/ids.py, docs/TRUST.md §1): the SDK refuses, and the
worker's check of decoded events refuses, an id with a control, format or bidi character, a
quote, a backslash, a space or a slash, and a code with a control, format or bidi character;
the ids of real city exports pass."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from civicloop.schemas.codec import decode, encode
from civicloop.schemas.events import EventValidationError, check_decoded, new_event
from civicloop.schemas.ids import MAX_ID, code_problem, csv_text, id_problem, shown, text_problem
from civicloop.tools.ingest import baltimore311, nyc311
from civicloop.tools.output import to_csv
from tests.support import case_events as ev

DATA = Path(__file__).parents[1] / "data"
T = datetime(2024, 3, 4, 9, tzinfo=UTC)

#: what the issue names (NUL, ESC, quotes, backslash, U+202E) and the other invisible or
#: breaking characters the rule refuses in ids
BAD_IN_IDS = [
    "\x00",
    "\x1b",
    "\x1b[31m",
    '"',
    "'",
    "\\",
    "\u202e",
    "\u202a",
    "\u2066",
    "\u2069",
    "\u200e",
    "\u200f",
    "\u061c",
    "\u200b",
    "\ufeff",
    "\x7f",
    "\x85",
    "\u2028",
    "\n",
    "\t",
    " ",
    "\u3000",
    "/",
    "%",
    "<",
]
#: refused in codes too (controls, format characters, line separators)
BAD_IN_CODES = [c for c in BAD_IN_IDS if c not in ('"', "'", "\\", " ", "\u3000", "/", "%", "<", "\x1b[31m")]
GOOD_IDS = [
    "nyc-43000001",
    "bal-18-00269879",
    "sr-1f2e3d4c5b6a79880716a5b4",
    "C-7-t2",
    "京-2024-000123",
    "é_1.2:3",
]
GOOD_CODES = [
    "Mayor's Office",
    "Noise - Residential",
    "Street Light Outage (Repair)",
    "市政 道路",
    "importer/nyc311",
]


@pytest.mark.parametrize("bad", BAD_IN_IDS, ids=ascii)
def test_an_id_with_a_refused_character_is_refused_naming_it(bad: str) -> None:
    problem = id_problem(f"C-1{bad}2")
    assert problem is not None and f"U+{ord(bad[0]):04X}" in problem and "position 3" in problem


@pytest.mark.parametrize("bad", BAD_IN_CODES, ids=ascii)
def test_a_code_with_a_control_or_format_character_is_refused(bad: str) -> None:
    assert code_problem(f"roads{bad}") is not None


@pytest.mark.parametrize("good", GOOD_IDS)
def test_ids_of_every_script_pass(good: str) -> None:
    assert id_problem(good) is None and code_problem(good) is None


@pytest.mark.parametrize("good", GOOD_CODES)
def test_codes_keep_spaces_quotes_and_any_script(good: str) -> None:
    assert code_problem(good) is None


@pytest.mark.parametrize("field", ["case_id", "task_id"])
@pytest.mark.parametrize("bad", ["\x00", "\x1b", '"', "'", "\\", "\u202e"], ids=ascii)
def test_the_sdk_refuses_such_case_and_task_ids(field: str, bad: str) -> None:
    ids = {"case_id": "C-1", "task_id": "T1", field: f"X{bad}1"}
    with pytest.raises(EventValidationError) as refused:
        new_event("TaskAccepted", actor=("department", "roads"), source="tests/1", occurred_at=T, **ids)
    assert (refused.value.field, refused.value.reason) == (field, "bad_character")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("duplicate_of", "C-2\u202e"),
        ("department", "roads\x00"),
        ("source", "app\x1b[2J"),
        ("actor.id", "\u202eevil"),
    ],
)
def test_the_sdk_refuses_other_ids_and_codes_with_such_characters(field: str, value: str) -> None:
    fields = {"reason": "duplicate", "duplicate_of": "C-2", "department": "roads"}
    envelope = {"source": "tests/1", "actor": {"type": "system", "id": "t"}}
    if field == "actor.id":
        envelope["actor"] = {"type": "system", "id": value}
    elif field in envelope:
        envelope[field] = value
    else:
        fields[field] = value
    with pytest.raises(EventValidationError) as refused:
        new_event("CaseVoided", case_id="C-1", occurred_at=T, **envelope, **fields)  # type: ignore[arg-type]
    assert (refused.value.field, refused.value.reason) == (field, "bad_character")


def test_the_worker_check_refuses_a_decoded_event_with_such_a_case_id() -> None:
    # bytes any client could produce (encoded without the SDK's checks)
    raw = encode(ev.reported(T, "C-1\u202e2-C"))
    with pytest.raises(EventValidationError) as refused:
        check_decoded(decode(raw))
    assert refused.value.field == "case_id"


def test_an_overlong_id_is_refused_for_its_length_first() -> None:
    with pytest.raises(EventValidationError) as refused:
        new_event(
            "CaseClosed",
            case_id="\x00" * (MAX_ID + 1),
            actor=("system", "t"),
            source="tests/1",
            occurred_at=T,
            reason="resolved",
        )
    assert refused.value.reason == "too_long"


def test_every_id_of_the_real_city_exports_passes() -> None:
    # the importers build every event through the SDK, which counts what it refuses
    files = [(nyc311.read, path) for path in sorted((DATA / "nyc").glob("*.csv"))]
    files.append((baltimore311.read, DATA / "baltimore" / "baltimore_311_sample.csv"))
    events = []
    for read, path in files:
        imported = read(path)
        events += list(imported)
        refused = {k: n for k, n in imported.report.unmapped.items() if k.startswith("invalid_event")}
        assert refused == {}, path
    assert len(events) > 1000
    assert {e.case_id.split("-")[0] for e in events} == {"nyc", "bal"}


#: refused in every free-text field: controls but tab and line breaks, bidi embeddings,
#: overrides and isolates (what the API refuses too: tests/unit/test_api_text.py; a lone
#: surrogate is no UTF-8 text, refused as the Avro string's bad_type before this rule)
BAD_IN_TEXT = [
    "\x00",
    "\x1b[31m",
    "\x07",
    "\x7f",
    "\x85",
    "\x9b",
    "\u202e",
    "\u202a",
    "\u2066",
    "\u2069",
]
#: kept in free text: lines and tabs where a field has several, any script, emoji joined by
#: U+200D, the marks right-to-left text needs
GOOD_TEXT = ["two\r\nlines\tand a tab", "市政 道路", "👩\u200d👩\u200d👧", "שלום\u200f!", "\u00a0nbsp"]


@pytest.mark.parametrize("bad", BAD_IN_TEXT, ids=ascii)
@pytest.mark.parametrize(
    ("event_type", "field"),
    [
        ("FeedbackReceived", "comment"),
        ("CaseReported", "description"),
        ("CaseReported", "location.address"),
        ("CaseVoided", "note"),
    ],
)
def test_the_sdk_refuses_free_text_with_a_control_or_bidi_character(
    event_type: str, field: str, bad: str
) -> None:
    given = _free_text(event_type, field, f"text {bad} here")

    with pytest.raises(EventValidationError) as refused:
        new_event(event_type, **given)

    assert (refused.value.field, refused.value.reason) == (field, "bad_character")
    assert f"U+{ord(bad[0]):04X}" in str(refused.value)


@pytest.mark.parametrize("good", GOOD_TEXT, ids=ascii)
def test_free_text_keeps_lines_any_script_and_emoji(good: str) -> None:
    event = new_event("FeedbackReceived", **_free_text("FeedbackReceived", "comment", good))

    assert event["comment"] == good
    assert text_problem(good, multiline=True) is None


@pytest.mark.parametrize("line", ["a\nb", "a\rb", "a\tb", "a\u2028b", "a\u2029b"], ids=ascii)
def test_one_line_text_refuses_tabs_and_line_breaks(line: str) -> None:
    with pytest.raises(EventValidationError) as refused:
        new_event("CaseReported", **_free_text("CaseReported", "location.address", line))

    assert refused.value.field == "location.address" and "one line" in str(refused.value)


@pytest.mark.parametrize(
    ("answers", "reason"),
    [
        ({"SIZE": ["large\x00"]}, "bad_character"),
        ({"SIZE": ["see \u202e"]}, "bad_character"),
        ({"SI\x1bZE": ["large"]}, "bad_character"),
        ({"SIZE": ["x" * 1001]}, "too_long"),
        ({"S" * (MAX_ID + 1): ["large"]}, "too_long"),
    ],
    ids=["nul", "bidi", "escape-in-code", "long-answer", "long-code"],
)
def test_the_sdk_refuses_answers_that_break_the_rules_of_codes_and_text(
    answers: dict[str, list[str]], reason: str
) -> None:
    given = {**_free_text("CaseReported", "description", "ok"), "attributes": answers}

    with pytest.raises(EventValidationError) as refused:
        new_event("CaseReported", **given)

    assert (refused.value.field, refused.value.reason) == ("attributes", reason)


def test_answers_of_several_lines_any_script_and_many_values_pass() -> None:
    answers = {"SIZE": ["large"], "NOTE": ["two\nlines\tand 京 👍"], "LANES": ["left", "right"]}

    event = new_event(
        "CaseReported", **{**_free_text("CaseReported", "description", "ok"), "attributes": answers}
    )

    assert event["attributes"] == answers


def test_the_worker_check_refuses_a_decoded_event_with_such_a_comment() -> None:
    # bytes any client could produce (encoded without the SDK's checks)
    raw = encode(ev.feedback(T, rating=2, comment="bad\x00\u202e"))
    with pytest.raises(EventValidationError) as refused:
        check_decoded(decode(raw))
    assert (refused.value.field, refused.value.reason) == ("comment", "bad_character")


def _free_text(event_type: str, field: str, value: str) -> dict[str, object]:
    """The fields of a valid ``event_type`` with ``value`` in the free-text ``field``."""
    envelope = {
        "case_id": "C-1",
        "occurred_at": T,
        "source": "tests/1",
        "actor": {"type": "system", "id": "t"},
    }
    fields: dict[str, dict[str, object]] = {
        "FeedbackReceived": {"resolved": True, "satisfaction": "satisfied", "rating": 4, "comment": "ok"},
        "CaseReported": {
            "channel": "app",
            "category": "roads",
            "priority": "normal",
            "reporter_ref": "r-1",
            "description": "ok",
            "location": {"lat": 39.29, "lon": -76.61, "address": "1 Main St"},
        },
        "CaseVoided": {"reason": "invalid", "note": "ok"},
    }
    given = {**envelope, **fields[event_type]}
    if field == "location.address":
        given["location"] = {**fields["CaseReported"]["location"], "address": value}  # type: ignore[dict-item]
    else:
        given[field] = value
    return given


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("refund \u202e001$", "refund ⟨U+202E⟩001$"),
        ("bell\x07 and esc\x1b[31m", "bell⟨U+0007⟩ and esc⟨U+001B⟩[31m"),
        ("two\nlines\tand a tab", "two\nlines\tand a tab"),  # what several-line text may hold
        ("道路 pothole, 2 m", "道路 pothole, 2 m"),
        ("next line\x85", "next line⟨U+0085⟩"),
    ],
)
def test_text_an_older_revision_accepted_is_shown_with_its_hidden_characters_named(
    text: str, expected: str
) -> None:
    assert shown(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1 555", "'+1 555"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("roads=paving", "roads=paving"),  # only a leading formula character is one
        ("\x1b=1", "⟨U+001B⟩=1"),
    ],
)
def test_a_csv_cell_never_starts_a_spreadsheet_formula(text: str, expected: str) -> None:
    assert csv_text(text) == expected


def test_the_commands_csv_keeps_figures_and_makes_text_safe() -> None:
    out = to_csv([{"grp": "=cmd|' /C calc'!A0", "closed": -3, "rate": 0.5, "p50": None}])
    assert out.splitlines() == ["grp,closed,rate,p50", "'=cmd|' /C calc'!A0,-3,0.5,"]
