"""Metric queries are (name, expression) pairs read back by name: on chDB, selecting every
query's columns in reverse order gives the same metrics, durations and backlog, and a query's
column names are the aliases its SQL selects, in order."""

from __future__ import annotations

import re

import pytest

from civicloop.projections.metrics import sql
from civicloop.projections.metrics.closed_loop import metric_queries, metrics
from civicloop.projections.metrics.reports import backlog, durations
from tests.component.test_metrics_sql import NOW, P_FROM, P_TO, hand_built, project
from tests.support.chdb_support import Chdb
from tests.support.workload import workload


def _figures(chdb: Chdb, db: str) -> list[object]:
    return [
        metrics(chdb.query, db, "department", P_FROM, P_TO, NOW),
        metrics(chdb.query, db, "all"),
        durations(chdb.query, db, "category", P_FROM, P_TO),
        backlog(chdb.query, db, "department", NOW),
    ]


def test_the_columns_selected_in_another_order_give_the_same_figures(
    chdb: Chdb, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given rows of hand-built cases and a generated workload, and the figures read from them
    db = project(chdb, hand_built() + workload(7, 60, spread_days=14))
    before = _figures(chdb, db)
    assert any(before[0]) and any(before[2]) and any(before[3])
    # when every metric query selects its columns last first
    select = sql.select
    monkeypatch.setattr(sql, "select", lambda columns, *rest: select(list(reversed(columns)), *rest))
    reversed_queries = metric_queries(db, "department", P_FROM, P_TO, NOW)
    assert reversed_queries.cases.names[0] != "grp"

    # then every figure is read by its name: the same values
    assert _figures(chdb, db) == before


def test_a_querys_names_are_the_aliases_its_sql_selects() -> None:
    queries = [
        *metric_queries("db", "category", P_FROM, P_TO, NOW),
        *(sql.durations_sql("db", "grid", table, P_FROM, P_TO) for table in sql.TABLES),
        sql.backlog_sql("db", "channel", NOW),
    ]

    for query in queries:
        selected = query.sql.split("\nFROM ")[0]
        assert tuple(re.findall(r" AS (\w+)(?:,\n|$)", selected)) == query.names
