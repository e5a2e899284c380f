"""The evolution guard: the real tree passes, and each kind of incompatible edit is caught."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from civicloop.schemas.compat import check_backward_transitive, check_read, check_tree
from civicloop.schemas.loader import AVRO_DIR

Schema = dict[str, Any]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "avro"
    shutil.copytree(AVRO_DIR, root)
    return root


def _add_v2(root: Path, event: str, edit: Callable[[Schema], None]) -> None:
    schema = json.loads((root / event / "v1.avsc").read_text())
    edit(schema)
    (root / event / "v2.avsc").write_text(json.dumps(schema))


def _field(schema: Schema, name: str) -> Schema:
    return next(f for f in schema["fields"] if f["name"] == name)


def test_the_real_tree_passes() -> None:
    assert check_tree(AVRO_DIR) == []


def test_compatible_v2_passes(tree: Path) -> None:
    # given a v2 that adds an optional field with a default
    _add_v2(
        tree,
        "CaseClosed",
        lambda s: s["fields"].append(
            {"name": "note", "type": ["null", "string"], "default": None, "doc": "d"}
        ),
    )
    # then the guard finds nothing
    assert check_tree(tree) == []


def test_field_added_without_default_is_reported(tree: Path) -> None:
    _add_v2(tree, "CaseClosed", lambda s: s["fields"].append({"name": "note", "type": "string", "doc": "d"}))
    problems = check_tree(tree)
    assert problems == ["CaseClosed: v2 cannot read v1: CaseClosed.note: field added without a default"]


def test_string_changed_to_int_is_reported(tree: Path) -> None:
    _add_v2(tree, "TaskAccepted", lambda s: _field(s, "task_id").update(type="int"))
    problems = check_tree(tree)
    assert len(problems) == 1 and "task_id: type changed from string to int" in problems[0]


def test_enum_symbol_removed_is_reported_when_the_reader_has_no_default(tree: Path) -> None:
    # given a v2 that redeclares VoidReason inline without "duplicate" and without a default
    def drop_symbol(schema: Schema) -> None:
        enum = json.loads((tree / "_types" / "VoidReason.avsc").read_text())
        enum["symbols"].remove("duplicate")
        del enum["default"]
        _field(schema, "reason")["type"] = enum

    _add_v2(tree, "CaseVoided", drop_symbol)
    problems = check_tree(tree)
    assert len(problems) == 1 and "enum symbols ['duplicate'] removed" in problems[0]


def test_enum_symbol_removed_is_tolerated_when_the_reader_has_a_default(tree: Path) -> None:
    def drop_symbol(schema: Schema) -> None:
        enum = json.loads((tree / "_types" / "VoidReason.avsc").read_text())
        enum["symbols"].remove("duplicate")
        _field(schema, "reason")["type"] = enum

    _add_v2(tree, "CaseVoided", drop_symbol)
    assert check_tree(tree) == []


def test_field_removed_without_default_is_reported(tree: Path) -> None:
    _add_v2(tree, "TaskReturned", lambda s: s["fields"].remove(_field(s, "task_id")))
    problems = check_tree(tree)
    assert problems == [
        "TaskReturned: v2 cannot read v1: TaskReturned.task_id: field removed, and it had no default"
    ]


def test_problems_are_checked_transitively_against_every_older_version(tree: Path) -> None:
    # given v2 adds a defaulted field and v3 drops the default: v3 cannot read v1
    _add_v2(
        tree,
        "CaseClosed",
        lambda s: s["fields"].append({"name": "n", "type": "int", "default": 0, "doc": "d"}),
    )
    v3 = json.loads((tree / "CaseClosed" / "v2.avsc").read_text())
    del _field(v3, "n")["default"]
    (tree / "CaseClosed" / "v3.avsc").write_text(json.dumps(v3))
    problems = check_tree(tree)
    assert [p.split(":")[1].strip() for p in problems] == ["v3 cannot read v1"]


def test_undocumented_fields_are_reported(tree: Path) -> None:
    _add_v2(
        tree,
        "CaseClosed",
        lambda s: s["fields"].append({"name": "note", "type": ["null", "string"], "default": None}),
    )
    assert check_tree(tree) == ["CaseClosed: v2: note: field has no doc"]


def test_a_broken_tree_is_reported_not_raised(tree: Path) -> None:
    (tree / "CaseClosed" / "v3.avsc").write_text("{}")  # a gap (no v2) and not a record
    problems = check_tree(tree)
    assert len(problems) == 1 and "v3.avsc" in problems[0]


@pytest.mark.parametrize(
    ("writer", "reader", "ok"),
    [
        ("int", "long", True),
        ("int", "double", True),
        ("long", "float", True),
        ("float", "double", True),
        ("string", "bytes", True),
        ("bytes", "string", True),
        ("long", "int", False),
        ("double", "float", False),
        ("string", "int", False),
        ("string", ["null", "string"], True),
        (["null", "string"], "string", False),
        (["null", "int"], ["null", "long"], True),
        (["null", "int", "string"], ["null", "int"], False),
    ],
)
def test_primitive_promotions_and_unions_follow_avro(writer: Any, reader: Any, ok: bool) -> None:
    assert (check_read(reader, writer) == []) is ok


def test_record_renamed_needs_an_alias() -> None:
    old = {"type": "record", "name": "A", "fields": []}
    renamed = {"type": "record", "name": "B", "fields": []}
    aliased = {"type": "record", "name": "B", "aliases": ["A"], "fields": []}
    assert check_backward_transitive([old, renamed]) == [
        "v2 cannot read v1: B: record A renamed to B without an alias"
    ]
    assert check_backward_transitive([old, aliased]) == []


TIMESTAMP = {"type": "long", "logicalType": "timestamp-millis"}


@pytest.mark.parametrize(
    ("reader", "ok"),
    [
        (["null", TIMESTAMP], True),  # TaskDispatched v2's deadlines: a required time may become null
        ([TIMESTAMP, "null"], True),
        (["null", "long"], False),  # the union lost the logical type: same bytes, another meaning
        (["null", "string"], False),
    ],
)
def test_a_required_timestamp_may_become_an_optional_one(reader: Any, ok: bool) -> None:
    # given v1 data with a required timestamp-millis; when read by a union reader
    assert (check_read(reader, TIMESTAMP) == []) is ok


def test_task_dispatched_v2_reads_v1() -> None:
    # given the released tree (TaskDispatched v1 required deadlines, v2 makes them nullable)
    versions = [json.loads((AVRO_DIR / "TaskDispatched" / f"v{n}.avsc").read_text()) for n in (1, 2)]
    # then the guard accepts the change, and both deadlines are optional with a null default
    assert not [p for p in check_tree(AVRO_DIR) if p.startswith("TaskDispatched")]
    deadlines = {f["name"]: f for f in versions[1]["fields"] if f["name"] in ("accept_by", "dispose_by")}
    assert all(f["default"] is None and f["type"][0] == "null" for f in deadlines.values())
