"""All time stays exact whatever the rollup holds (docs/DESIGN.md §5, §7; ``metrics/rollup.py``):
on chDB and on ClickHouse 18.16, with batches interleaved, redelivered and replayed, with a
count read before later rows that lands after their count, with a writer killed before it
counted — all-time metrics equal the reference computed from the events alone, and once every
month is counted they are read from the rollup (the task table not read at all)."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from civicloop.projections.metrics import rollup, settled
from civicloop.projections.metrics import sql as q
from civicloop.projections.metrics.closed_loop import metrics
from civicloop.projections.metrics.reports import backlog, durations
from civicloop.projections.metrics.scope import Scope
from civicloop.projections.projector import Projector, RawMessage
from civicloop.projections.read_model.cases import CHOICES, choices
from civicloop.projections.store.base import Store
from civicloop.projections.tables import schema
from civicloop.schemas.codec import decode
from tests.component.test_metrics_months import stream
from tests.support.reference_metrics import reference_durations, reference_metrics

pytestmark = pytest.mark.integration
NOW = datetime(2025, 5, 1, tzinfo=UTC)
DIMENSIONS = ("department", "grid", "all")
#: what all time reads once every month is counted
CURRENT = {schema.METRIC_ROLLUP, schema.CASE_LIFECYCLE}
#: moments of the backlog: with the last months still open, and once every month has settled
MOMENTS = (NOW, datetime(2030, 1, 1, tzinfo=UTC))
WALL = ("group", "duration", "n", "wall_p50", "wall_p90", "wall_p99")


class Killed(BaseException):
    """The writer died (a kill -9 between two writes): nothing in the writer can catch it, as
    nothing catches a kill (a failing count, an ``Exception``, is logged and tried again)."""


class DiesAtRollup:
    """The store, until armed: then its next write into ``table`` (``metric_rollup``'s rows,
    or ``duration_rollup``'s ``INSERT … SELECT``) raises instead."""

    def __init__(self, store: Store, table: str = schema.METRIC_ROLLUP) -> None:
        self._store, self._table = store, table
        self.armed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def _dies(self, target: str) -> None:
        if self.armed and f".{self._table} " in f"{target} ":
            self.armed = False
            raise Killed(target)

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
        self._dies(table)
        return self._store.insert(table, rows)

    def command(self, sql: str, params: Any = None) -> None:
        self._dies(sql.split("(", 1)[0])  # INSERT INTO db.table (…
        self._store.command(sql, params)


def counting(store: Store, db: str) -> Projector:
    """A worker that counts the months of every batch it writes into the rollup."""
    worker = Projector(store, db, lambda _: None)
    assert worker.writer.rollups is not None
    worker.writer.rollups.every = 0
    return worker


def exact(store: Store, db: str, read: list[RawMessage]) -> bool:
    """All time's metrics and durations equal the oracle's by every dimension, computed from the
    events (the durations' counts and wall-clock quantiles: it has no working calendar), the
    backlog, from the rollup's settled months, the statement's over every month, and the
    dashboard's filter values those of the rows."""
    events = [decode(m.value or b"") for m in read]
    return all(
        metrics(store.query, db, dim, None, None, NOW) == reference_metrics(events, dim, None, None, NOW)
        and durations_exact(store, db, dim, events)
        and all(backlog_exact(store, db, dim, t) for t in MOMENTS)
        for dim in DIMENSIONS
    ) and choices(store.query, db) == current_values(store, db)


def current_values(store: Store, db: str) -> dict[str, list[str]]:
    """The dashboard's filter values: every value of the rows as they are, departments of
    either table."""
    found = {}
    for dim, column in CHOICES.items():
        sql = f"SELECT DISTINCT {column} FROM {db}.{schema.CASE_LIFECYCLE} FINAL"
        if dim == "department":
            sql += f" UNION ALL SELECT DISTINCT department FROM {db}.{schema.CASE_TASKS} FINAL"
        found[dim] = sorted({str(v) for (v,) in store.query(sql) if v})
    return found


def backlog_exact(store: Store, db: str, dim: str, t: datetime) -> bool:
    """The backlog (settled months from the rollup) is the full statement's, by ``dim`` and,
    for the whole city, within each department."""
    scopes = [(dim, Scope())]
    if dim == "all":
        departments = store.query(f"SELECT DISTINCT lead_department FROM {db}.{schema.CASE_LIFECYCLE}")
        scopes += [("all", Scope({"department": str(d)})) for (d,) in departments]
    return all(
        backlog(store.query, db, by, t, scope) == full_backlog(store, db, by, t, scope)
        for by, scope in scopes
    )


def full_backlog(store: Store, db: str, dim: str, t: datetime, scope: Scope) -> list[dict[str, Any]]:
    return [
        {
            "group": r["grp"],
            "age_bucket": r["age_bucket"],
            "overdue": bool(int(r["overdue"])),
            "cases": int(r["cases"]),
        }
        for r in q.named(store.query, q.backlog_sql(db, dim, t, scope), scope.params())
    ]


def durations_exact(store: Store, db: str, dim: str, events: list[Any]) -> bool:
    wall = [{key: row[key] for key in WALL} for row in durations(store.query, db, dim)]
    return wall == reference_durations(events, dim)


def settled_from_the_rollup(store: Store, db: str) -> bool:
    """Whether the backlog by grid once every month has settled reads the rollup, not the
    case table."""
    read: list[str] = []

    def spy(sql: str, params: Any = None) -> Any:
        read.append(sql)
        return store.query(sql, params)

    backlog(spy, db, "grid", MOMENTS[-1])
    return any(f"{db}.{schema.BACKLOG_ROLLUP}" in sql for sql in read) and not any(
        f"{db}.{schema.CASE_LIFECYCLE}" in sql for sql in read
    )


def tables_read(store: Store, db: str) -> set[str]:
    """The tables of ``db`` that all time by grid reads."""
    read: list[str] = []

    def spy(sql: str, params: Any = None) -> Any:
        read.append(sql)
        return store.query(sql, params)

    metrics(spy, db, "grid", now=NOW)
    return {t for t in schema.NAMES for sql in read if f"{db}.{t}" in sql}


def interleaved(read: list[RawMessage], seed: int) -> list[list[RawMessage]]:
    """Batches of each partition in order, the partitions interleaved at random, and an earlier
    batch of a partition delivered again now and then (at-least-once)."""
    rng = random.Random(seed)
    queues = {p: [m for m in read if m.partition == p] for p in sorted({m.partition for m in read})}
    batches, done = [], []
    while any(queues.values()):
        p = rng.choice([p for p, left in queues.items() if left])
        size = rng.randint(5, 60)
        batch, queues[p] = queues[p][:size], queues[p][size:]
        batches.append(batch)
        done.append(batch)
        if rng.random() < 0.3:
            batches.append(rng.choice(done))  # redelivered, whole
    return batches


def test_all_time_over_interleaved_redelivered_and_replayed_batches_is_exact(
    store: Store, database: str
) -> None:
    read = stream()
    store.lay_out(database)
    # given two workers writing the same tables, each its own partitions (as Kafka assigns
    # them), their batches interleaved at random and now and then delivered again, each
    # batch's months counted into the rollup
    first, second = counting(store, database), counting(store, database)
    for batch in interleaved(read, seed=23):
        (first if batch[0].partition else second).project(batch)
    # then all time is the reference by every dimension, read from the rollup
    assert exact(store, database, read)
    assert tables_read(store, database) == CURRENT
    assert settled_from_the_rollup(store, database)
    # and so it stays when the whole log is replayed over it by a worker with nothing cached
    again = counting(store, database)
    for i in range(0, len(read), 250):
        again.project(read[i : i + 250])
    assert exact(store, database, read)
    assert tables_read(store, database) == CURRENT
    assert settled_from_the_rollup(store, database)


def test_a_count_read_before_later_rows_that_lands_after_their_count_changes_nothing(
    store: Store, database: str
) -> None:
    read = stream()
    store.lay_out(database)
    worker = counting(store, database)
    half = len(read) // 2
    worker.project(read[:half])
    # given every month counted by a slow writer after the first half ...
    stamps = rollup.blocks(store.query, database)
    stale = rollup.snapshot_rows(q.named(store.query, rollup.count_sql(database, stamps)), stamps)
    store.command(f"CREATE TABLE {database}.slow AS {database}.{schema.BACKLOG_ROLLUP}")
    months = {m: n for (s, m), n in stamps.items() if s == q.CASES}
    store.command(settled.count_sql(database, months, months, into="slow"))
    # ... when the second half is written and counted, and only then the slow count lands
    worker.project(read[half:])
    store.insert(f"{database}.{schema.METRIC_ROLLUP}", stale)
    store.command(f"INSERT INTO {database}.{schema.BACKLOG_ROLLUP} SELECT * FROM {database}.slow")
    # then all time counts every row, from the later count
    assert exact(store, database, read)
    assert tables_read(store, database) == CURRENT
    assert settled_from_the_rollup(store, database)


@pytest.mark.parametrize("table", [schema.METRIC_ROLLUP, schema.BACKLOG_ROLLUP])
def test_a_writer_killed_before_it_counted_leaves_all_time_exact(
    store: Store, database: str, table: str
) -> None:
    read = stream()
    store.lay_out(database)
    dying = DiesAtRollup(store, table)
    worker = counting(dying, database)  # type: ignore[arg-type]
    cut = len(read) - 80
    worker.project(read[:cut])
    # given the last batch written (marker and all) and the writer killed as it counted (the
    # counts or, once they were written, the open cases)
    dying.armed = True
    with pytest.raises(Killed):
        worker.project(read[cut:])
    # then all time is exact: the months written since their count are read from the tables
    assert exact(store, database, read)
    if table == schema.METRIC_ROLLUP:
        assert schema.CASE_TASKS in tables_read(store, database)
    else:
        assert not settled_from_the_rollup(store, database)
    # and once a new worker has counted them at its start (its first batch, the unacknowledged
    # one again, is skipped: its rows are all there), from the rollup again
    counting(store, database).project(read[cut:])
    assert exact(store, database, read)
    assert tables_read(store, database) == CURRENT
    assert settled_from_the_rollup(store, database)
