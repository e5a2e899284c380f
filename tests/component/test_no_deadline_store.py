"""Null task deadlines in the store: the table upgrade and the SLA watchdog, on chDB."""

from __future__ import annotations

import itertools

import pytest

from civicloop.projections.fold.lifecycle import fold_all
from civicloop.projections.tables import schema
from civicloop.projections.tables.rows import task_rows
from civicloop.streams.watchdog import Overdue, overdue
from tests.support import case_events as ev
from tests.support.case_events import at
from tests.support.chdb_support import Chdb

DEADLINES = ("accept_by", "dispose_by", "original_dispose_by")
_dbs = itertools.count()


@pytest.fixture
def db(chdb: Chdb) -> str:
    return chdb.new_database("nodeadline")


def _types(chdb: Chdb, db: str) -> dict[str, str]:
    found = schema.column_types(chdb, db)
    return {column: found[(schema.CASE_TASKS, column)] for column in DEADLINES}


def test_new_tables_have_nullable_deadlines_and_need_no_upgrade(chdb, db):
    assert set(_types(chdb, db).values()) == {"Nullable(DateTime('UTC'))"}
    assert schema.upgrades(db, schema.column_types(chdb, db)) == []


def test_a_table_of_an_older_release_is_upgraded_and_keeps_its_rows(chdb):
    # given case_tasks as released before TaskDispatched v2 (deadlines not Nullable), with a row
    name = f"nodeadline_old_{next(_dbs)}"
    old_ddl = schema.ddl(schema.CASE_TASKS)
    for column in DEADLINES:
        old_ddl = old_ddl.replace(f"{column} Nullable(DateTime('UTC'))", f"{column} DateTime('UTC')")
    chdb.command(f"CREATE DATABASE {name}")
    chdb.command(old_ddl.format(db=name))
    assert set(_types(chdb, name).values()) == {"DateTime('UTC')"}
    with_deadline = fold_all([ev.reported(at(0)), ev.registered(at(1)), ev.dispatched(at(2))])
    chdb.insert(f"{name}.case_tasks", task_rows(with_deadline))
    # when the tables are ensured at start
    chdb.lay_out(name)
    # then the deadlines are Nullable, the old row is intact and a deadline-less row fits
    assert set(_types(chdb, name).values()) == {"Nullable(DateTime('UTC'))"}
    without = fold_all(
        [
            ev.reported(at(0), "C-2"),
            ev.registered(at(1), "C-2"),
            ev.dispatched(at(2), case_id="C-2", accept_h=None, dispose_h=None),
        ]
    )
    chdb.insert(f"{name}.case_tasks", task_rows(without))
    rows = chdb.query(f"SELECT case_id, accept_by, dispose_by FROM {name}.case_tasks ORDER BY case_id")
    assert rows == [("C-1", at(3), at(50)), ("C-2", None, None)]
    assert schema.upgrades(name, schema.column_types(chdb, name)) == []


def test_the_watchdog_skips_deadlines_that_were_never_set(chdb, db):
    # given live tasks: no deadlines, only a dispose-by, and both deadlines, all long past
    def dispatched(case_id: str, accept_h: float | None, dispose_h: float | None) -> list:
        case = fold_all(
            [
                ev.reported(at(0), case_id),
                ev.registered(at(1), case_id),
                ev.dispatched(at(2), case_id=case_id, accept_h=accept_h, dispose_h=dispose_h),
            ]
        )
        return task_rows(case)

    rows = dispatched("none", None, None) + dispatched("dispose", None, 24) + dispatched("both", 1, 24)
    chdb.insert(f"{db}.case_tasks", rows)
    # when the watchdog looks for overdue tasks a week later
    found = overdue(chdb.query, db, at(24 * 7))
    # then only the deadlines that exist are escalated
    assert sorted(found, key=lambda o: (o.case_id, o.reason)) == [
        Overdue("both", "T1", "accept_overdue", at(3)),
        Overdue("both", "T1", "dispose_overdue", at(26)),
        Overdue("dispose", "T1", "dispose_overdue", at(26)),
    ]


def test_the_watchdog_guards_null_deadlines_in_python_too():
    # given a store that returns a live task with NULL deadlines (whatever its WHERE clause did)
    def run(sql: str, params: object = None) -> list[tuple]:
        return [("C-1", "T1", "dispatched", None, None), ("C-2", "T1", "dispatched", None, at(0))]

    # then the NULLs are skipped, not compared
    assert overdue(run, "db", at(10)) == [Overdue("C-2", "T1", "dispose_overdue", at(0))]
