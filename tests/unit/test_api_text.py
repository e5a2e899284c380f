"""The API's one rule for text and numbers (api/text.py), the limits docs/API.md states
against the ones enforced, the dashboard's command line quoted for a shell, and
``civicloop apikey list`` showing whole role names."""

from __future__ import annotations

import re
import shlex
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from civicloop.api import intake, text
from civicloop.api.actions import DisposeBody, TaskBody
from civicloop.api.attributes import ATTRIBUTE_LIMIT
from civicloop.api.dashboard.figures import View, same_figures
from civicloop.api.keys import ApiKeyStore
from civicloop.cli import app
from civicloop.schemas.ids import text_problem
from tests.conftest import REPO


@pytest.mark.parametrize(
    ("value", "multiline", "wrong"),
    [
        ("plain text, ünïcödé, 中文", False, None),
        ("two\r\nlines\tand a tab", True, None),
        ("two\nlines", False, "line break"),
        ("tab\there", False, "U+0009"),
        ("nul\x00", True, "U+0000"),
        ("escape\x1b[31m", True, "U+001B"),
        ("delete\x7f", True, "U+007F"),
        ("next line\u0085", True, "U+0085"),
        ("csi\u009b", True, "U+009B"),
        ("surrogate\udcff", True, "not valid UTF-8"),
        ("refund \u202e001$", True, "bidi control U+202E"),
        ("isolate \u2066x\u2069", True, "bidi control U+2066"),
        ("separator\u2028", False, "line break"),
        ("separator\u2028 in a note", True, None),
        ("joined 👩\u200d👧 and marked שלום\u200f", False, None),
    ],
)
def test_text_without_control_characters(value: str, multiline: bool, wrong: str | None) -> None:
    found = text.problem(value, multiline)
    assert (found is None) if wrong is None else (found is not None and wrong in found), found


@pytest.mark.parametrize("multiline", [False, True])
def test_the_api_takes_the_text_the_event_contract_takes(multiline: bool) -> None:
    # given every character of the BMP's first two blocks and the format/separator block, in text
    chars = [chr(c) for c in (*range(0x00, 0x250), *range(0x2000, 0x2070), 0xD800, 0xDFFF, 0xFEFF)]

    # then the API refuses exactly those the contract refuses (schemas/ids.py)
    differ = [
        f"U+{ord(c):04X}"
        for c in chars
        if (text.problem(f"a{c}b", multiline) is None) != (text_problem(f"a{c}b", multiline) is None)
    ]
    assert differ == []


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("12", 12.0),
        ("-76.6122", -76.6122),
        ("+.5", 0.5),
        ("0.0", 0.0),
        ("0e5", 0.0),
        ("1.5e2", 150.0),
        ("\u0661\u0662", None),  # Arabic-Indic digits: float() reads them as 12.0
        ("\uff11\uff12", None),  # full-width digits
        ("1_2", None),  # float() reads it as 12.0
        ("1e-400", None),  # float() reads it as 0.0
        ("1e400", None),
        ("inf", None),
        ("nan", None),
        (" 12", None),
        ("", None),
        ("1" * 65, None),
    ],
)
def test_numbers_are_ascii_finite_and_never_underflow(given: str, expected: float | None) -> None:
    assert text.number(given) == expected


def test_whole_numbers_are_ascii_digits() -> None:
    found = [text.whole(t) for t in ("12", "\u00b2", "\u0661\u0662", "-1", "1.0")]
    assert found == [12, None, None, None, None]


def test_handling_ids_are_one_line_and_a_note_may_have_lines() -> None:
    for bad in ("T\x00", "T\n1", "T\u0085", "x" * 129):
        with pytest.raises(ValueError):
            TaskBody(task_id=bad)
    assert DisposeBody(task_id="T1", outcome="fixed", note="two\nlines\tok").note == "two\nlines\tok"
    for bad_note in ("bell\x07", "next\u0085", "y" * 4001):
        with pytest.raises(ValueError):
            DisposeBody(task_id="T1", outcome="fixed", note=bad_note)


def test_the_documented_limits_are_the_enforced_ones() -> None:
    table = (REPO / "docs" / "API.md").read_text().split("## Text and numbers", 1)[1].split("\n## ", 1)[0]
    documented = {
        row[0]: int(row[1].replace(",", ""))
        for row in re.findall(r"^\| (.+?) \| ([0-9,]+) \|$", table, re.MULTILINE)
    }
    task_id = TaskBody.model_json_schema()["properties"]["task_id"]
    note = DisposeBody.model_json_schema()["properties"]["note"]
    enforced = {
        "`description`": intake.LIMITS["description"],
        "`address_string`": intake.LIMITS["address_string"],
        "`media_url`": intake.LIMITS["media_url"],
        "`address_id`": intake.LIMITS["address_id"],
        "`email`": intake.LIMITS["email"],
        "other Open311 form fields": intake.DEFAULT_LIMIT,
        "an `attribute[CODE]` value": ATTRIBUTE_LIMIT,
        "a handling call's `note`": _max_length(note),
        "a handling call's ids and codes (`task_id`, `department`, `reason`, …)": _max_length(task_id),
    }
    assert documented == enforced


def _max_length(schema: dict[str, Any]) -> int:
    """The maxLength of a field's JSON schema (a string, or a string or null)."""
    found = [s["maxLength"] for s in schema.get("anyOf", [schema]) if "maxLength" in s]
    assert len(found) == 1, schema
    return int(found[0])


def test_the_dashboards_command_line_is_quoted_for_a_shell() -> None:
    crafted = "x'; touch /tmp/pwned; echo '"
    view = View(
        datetime(2026, 8, 17, tzinfo=UTC),
        datetime(2026, 8, 31, 12, tzinfo=UTC),
        {"department": crafted, "district": "$(id)"},
    )
    words = shlex.split(same_figures(view))
    assert words == [
        "civicloop", "metrics", "--by", "all", "--from", "2026-08-17", "--to", "2026-08-31T12:00:00",
        "--department", crafted, "--district", "$(id)", "--format", "json",
    ]  # fmt: skip


def test_apikey_list_shows_whole_role_names(tmp_path: Path) -> None:
    store = ApiKeyStore(tmp_path / "var" / "api" / "keys.sqlite")
    try:
        key, _ = store.create("department:public_works_and_transport", label="the field crew's tablet " * 3)
    finally:
        store.close()
    env = {"CIVICLOOP_HOME": str(tmp_path), "COLUMNS": "60"}
    listed = CliRunner().invoke(app, ["apikey", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "department:public_works_and_transport" in listed.output
    assert key.key_id in listed.output and key.created_at in listed.output
