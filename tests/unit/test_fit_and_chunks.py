"""Two guards that keep content the store cannot take away from it: rows checked against their
column types before a batch is written, and state look-ups whose SQL text never grows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from civicloop.projections.state_store import LOOKUP_TEXT, chunks
from civicloop.projections.store import ranges
from civicloop.projections.store.base import StoreRejected

TYPES = {
    "case_id": "String",
    "escalation_level": "UInt8",
    "tasks": "UInt16",
    "partition": "UInt32",
    "offset": "UInt64",
    "closed_at": "Nullable(DateTime('UTC'))",
    "lat": "Nullable(Float64)",
}
OK_ROW = {
    "case_id": "C-1",
    "escalation_level": 3,
    "tasks": 2,
    "partition": 1,
    "offset": 2**63,
    "closed_at": datetime(2024, 1, 1, tzinfo=UTC),
    "lat": 1e300,
}


def test_only_the_narrow_columns_are_checked() -> None:
    assert {column for column, *_ in ranges.bounds(TYPES)} == {
        "escalation_level",
        "tasks",
        "partition",
        "closed_at",
    }


def test_rows_that_fit_pass_nulls_included() -> None:
    ranges.check("case_lifecycle", ranges.bounds(TYPES), [OK_ROW, {**OK_ROW, "closed_at": None}])


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("escalation_level", 300),
        ("escalation_level", -5),
        ("tasks", 65_536),
        ("partition", 2**32),
        ("closed_at", datetime(1900, 1, 1, tzinfo=UTC)),
        ("closed_at", datetime(2999, 1, 1, tzinfo=UTC)),
    ],
)
def test_a_value_outside_its_column_is_refused_by_name_never_clamped(column: str, value: object) -> None:
    rows = [OK_ROW, {**OK_ROW, column: value}, OK_ROW]
    with pytest.raises(StoreRejected) as caught:
        ranges.check("case_lifecycle", ranges.bounds(TYPES), rows)
    assert caught.value.code == "out_of_range"
    assert f"case_lifecycle.{column} = {value!r}" in str(caught.value)


def test_lookup_chunks_keep_every_id_once_in_order_and_bound_the_text() -> None:
    ids = [f"{n:064d}" for n in range(20_000)] + ["it's \\ quoted"]
    parts = list(chunks(ids))
    assert [cid for part in parts for cid in part] == ids
    assert len(parts) > 1
    for part in parts:
        text = ", ".join("'" + cid.replace("\\", "\\\\").replace("'", "\\'") + "'" for cid in part)
        assert len(text) <= LOOKUP_TEXT


def test_an_id_longer_than_the_budget_is_a_query_of_its_own() -> None:
    assert list(chunks(["a", "b" * 100, "c"], budget=50)) == [["a"], ["b" * 100], ["c"]]
    assert list(chunks([])) == []
