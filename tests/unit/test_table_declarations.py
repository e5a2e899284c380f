"""Each projection table's columns are declared once (``tables/schema.py``, ``tables/lifecycle.py``):
the DDL derived from a declaration is the statement the table was released with, and every row
builder fills exactly the declared columns, in table order: the two the fold fills column by
column from their declarations, and the eight smaller tables' builders, which name their
columns as they fill them (each reads best as the record it writes) and are checked here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from civicloop.projections.fold.casestate import CaseState
from civicloop.projections.fold.lifecycle import fold_all
from civicloop.projections.metrics import rollup, settled
from civicloop.projections.projector import RawMessage
from civicloop.projections.signals import evaluate
from civicloop.projections.signals import projector as signal_table
from civicloop.projections.state_store import Known, state_rows
from civicloop.projections.tables import event_log, periods, progress, schema
from civicloop.projections.tables.dead_letters import DeadLetter
from civicloop.projections.tables.lifecycle import LIFECYCLE, TASKS
from civicloop.projections.tables.rows import case_row, task_rows
from civicloop.projections.tables.table import Column, Table
from civicloop.schemas.codec import encode
from civicloop.schemas.signals import new_signal, signal_id
from civicloop.tools.demo import reports
from tests.support import case_events as ev
from tests.support.case_events import at
from tests.support.signal_events import day_surge

#: the statements as released before the declarations (the .sql files they replaced)
RELEASED = Path(__file__).parents[1] / "data" / "ddl_before"


def _without_comments(sql: str) -> str:
    return "".join(line for line in sql.splitlines(keepends=True) if not line.startswith("--"))


@pytest.mark.parametrize("table", schema.NAMES)
def test_the_derived_statement_is_the_released_one_byte_for_byte(table: str) -> None:
    # given the statement a deployment's table was made with (its comments aside)
    released = _without_comments((RELEASED / f"{table}.sql").read_text())

    # when the statement is derived from the table's declaration, then it is the same text
    assert schema.ddl(table) == released


def test_every_released_table_is_declared_and_nothing_else() -> None:
    assert sorted(schema.NAMES) == sorted(p.stem for p in RELEASED.glob("*.sql"))


def test_a_case_row_and_its_task_rows_fill_the_declared_columns_in_table_order() -> None:
    case = fold_all([ev.reported(at(0)), ev.registered(at(1)), ev.dispatched(at(2))])

    (task,) = task_rows(case)

    assert tuple(case_row(case)) == LIFECYCLE.names
    assert tuple(task) == TASKS.names


def test_the_rows_built_by_hand_name_exactly_their_tables_columns() -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    event = next(reports("decl", 1))
    dead = DeadLetter("t", 0, 1, b"k", b"raw", "too_short", "detail")
    case = fold_all([ev.reported(at(0))])
    assert isinstance(case, CaseState)
    counts = dict.fromkeys(rollup.ALL_COUNTS, 1)
    counted = {
        "source": "case_tasks",
        "month": 202401,
        "dimension": "all",
        "value": "",
        "version_sum": 3,
        **counts,
    }

    built = {
        schema.EVENT_LOG: event_log.row(event, "t", 0, 1, encode(event), now),
        schema.DEAD_LETTERS: dead.row(),
        schema.PROGRESS: progress.rows([("t", 0, 1)], now)[0],
        schema.CASE_STATE: state_rows({case.case_id: Known(case, 0, 1)})[0],
        schema.PERIOD_SPANS: periods.spans(schema.CASE_LIFECYCLE, [case_row(case)])[0],
        schema.SIGNAL_PROGRESS: evaluate.progress_row(evaluate.Step("surge/day", now, [])),
        schema.METRIC_ROLLUP: rollup.snapshot_rows([counted], {("case_tasks", 202401): 3})[0],
    }
    read = RawMessage("ns.signals", 0, 1, b"k", b"")
    signal_rows = [signal_table.row(signal, read, now) for signal in _signals(now)]

    # the open cases are written by an INSERT … SELECT naming their columns
    opened = settled.count_sql("db", [202401], {202401: 3})
    named = opened.removeprefix(f"INSERT INTO db.{schema.BACKLOG_ROLLUP} (").split(")", 1)[0]

    assert tuple(named.split(", ")) == schema.TABLES[schema.BACKLOG_ROLLUP].names
    assert sorted(built) == sorted(
        set(schema.NAMES) - {schema.CASE_LIFECYCLE, schema.CASE_TASKS, schema.SIGNALS, schema.BACKLOG_ROLLUP}
    )
    for table, row in built.items():
        assert tuple(row) == schema.TABLES[table].names, table
    for row in signal_rows:
        assert tuple(row) == schema.TABLES[schema.SIGNALS].names, row["type"]


def _signals(now: datetime) -> list[object]:
    """A surge and a recurring problem: the signals table's row builder fills each differently."""
    day = timedelta(days=1)
    surge = day_surge(now)
    recurring = new_signal(
        "RecurringProblemDetected",
        event_id=signal_id("recurring", "roads", "G1", now),
        occurred_at=now + day,
        category="roads",
        place="G1",
        day=now,
        cases=5,
        days=30,
        min_cases=5,
        first_reported_at=now - 20 * day,
        case_ids=["c-1", "c-2"],
    )
    return [surge, recurring]


def test_the_event_log_built_as_columns_names_the_declared_columns_in_order() -> None:
    class Read:
        topic, partition, offset, value = "t", 0, 1, b"x"

    event = next(reports("decl", 1))

    built = event_log.columns([(Read(), event)], datetime(2024, 1, 1, tzinfo=UTC))

    assert tuple(built) == schema.TABLES[schema.EVENT_LOG].names


def test_a_declaration_that_names_a_column_twice_or_keys_by_a_missing_one_is_refused() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        Table("t", (Column("a", "String"), Column("a", "String")), version="a", order_by=("a",))
    with pytest.raises(ValueError, match=r"\['v'\] are not columns"):
        Table("t", (Column("a", "String"),), version="v", order_by=("a",))


def test_the_statement_renders_one_key_plain_several_in_parentheses_and_partitions_when_asked() -> None:
    one = Table("t", (Column("a", "String"), Column("v", "UInt64")), version="v", order_by=("a",))
    two = Table("t", one.columns, version="v", order_by=("a", "v"), partition_by="cityHash64(a) % 4")

    assert one.ddl() == (
        "CREATE TABLE IF NOT EXISTS {db}.t (\n    a String,\n    v UInt64\n) "
        "ENGINE = ReplacingMergeTree(v)\nORDER BY a\n"
    )
    assert two.ddl().endswith("ReplacingMergeTree(v)\nPARTITION BY cityHash64(a) % 4\nORDER BY (a, v)\n")


def test_a_deployment_made_before_the_tables_that_describe_every_row_does_not_get_them() -> None:
    # spans or a rollup made beside older rows would miss them: such a deployment reads all
    # months and counts all time from the tables until a replay rebuilds it
    assert schema.names(set()) == schema.NAMES
    before_months = set(schema.NAMES) - {schema.PERIOD_SPANS, schema.METRIC_ROLLUP}
    assert set(schema.names(before_months)) == before_months
    before_rollup = set(schema.NAMES) - {schema.METRIC_ROLLUP}
    assert set(schema.names(before_rollup)) == before_rollup
    assert schema.names(set(schema.NAMES)) == schema.NAMES
