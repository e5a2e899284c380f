"""``civicloop bench queries``: every closed-loop query over 1 M cases' projections.

The projections are made inside ClickHouse (``synthetic``), then each query civicloop runs
for ``metrics``, ``durations`` and ``backlog`` is timed through the store, fastest of
``rounds``. The ceiling is reading the same table at all: ``count() … FINAL`` and a plain
``GROUP BY`` without ``FINAL``. Rows scanned are the rows in the table parts each query
reads: none of these queries filters on the sort key (case_id); the tables named count whole,
though a period's queries read only the months it can count in (``metrics/months.py``).
"""

from __future__ import annotations

import re
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from civicloop.projections.backend import open_store
from civicloop.projections.metrics import reports, rollup
from civicloop.projections.metrics import sql as q
from civicloop.projections.metrics.closed_loop import metrics
from civicloop.projections.store.base import Params, Query, Row, Store
from civicloop.projections.tables import periods, schema
from civicloop.tools.bench import synthetic
from civicloop.tools.bench.report import Figure, Ratio, Result, progress, timed
from civicloop.tools.bench.stores import Backend, Target, target

DIMENSIONS = ("department", "category", "district", "grid", "channel")
NOW = datetime(2026, 1, 1, tzinfo=UTC)  # the end of the synthetic year: results stay fixed
MONTH = (datetime(2025, 6, 1, tzinfo=UTC), datetime(2025, 7, 1, tzinfo=UTC))
TARGET_MS = 1000  # docs/DESIGN.md §8: all closed-loop metrics over 1 M cases in ≤ 1 s on chDB
ONE_DIMENSION = ("metrics_department_all", "durations_department", "backlog_department")
CEILING = "plain_group_by"


class _Tables:
    """A ``run`` for the query functions that notes each statement and the tables it reads (a
    call of ``durations`` runs two statements, one over each table)."""

    def __init__(self, store: Store, db: str) -> None:
        self.store, self.db = store, db
        self.read: list[str] = []
        self.statements: list[tuple[str, Params | None]] = []

    def __call__(self, sql: str, params: Params | None = None) -> list[Row]:
        self.read.extend(re.findall(rf"\bFROM {self.db}\.(\w+)", sql))
        self.statements.append((sql, params))
        return self.store.query(sql, params)


#: one timed query: given a Reader's query function, run the metric and return its result
TimedQuery = Callable[[Query], object]


def queries(db: str, store: Store | None = None) -> dict[str, tuple[str, TimedQuery]]:
    """key → (label, the call through a ``run``), in the order they are printed; with the
    ``store`` (one node), also one month's rollup refresh (it writes)."""
    found: dict[str, tuple[str, TimedQuery]] = {
        "count_final": (
            "SELECT count() FROM case_lifecycle FINAL (ceiling)",
            lambda run: run(f"SELECT count() FROM {db}.{schema.CASE_LIFECYCLE} FINAL"),
        ),
        CEILING: (
            "plain GROUP BY lead_department, no FINAL (ceiling)",
            lambda run: run(
                f"SELECT lead_department, count(), max(reported_at), max(closed_at), max(due_at) "
                f"FROM {db}.{schema.CASE_LIFECYCLE} GROUP BY lead_department"
            ),
        ),
    }
    for dim in DIMENSIONS:
        found[f"metrics_{dim}_all"] = (f"metrics by {dim}, all time", _metrics(db, dim))
        found[f"metrics_{dim}_month"] = (f"metrics by {dim}, one month", _metrics(db, dim, MONTH))
    found["durations_department"] = (
        "durations by department, all time",
        lambda run: reports.durations(run, db, "department"),
    )
    found["backlog_department"] = (
        "backlog by department, now",
        lambda run: reports.backlog(run, db, "department", NOW),
    )
    found["backlog_department_every_month"] = (
        "  the same statement over every month (no rollup: before backlog_rollup, a cluster)",
        lambda run: run(q.backlog_sql(db, "department", NOW).sql),
    )
    if store is not None and not store.sharded:  # a cluster keeps no rollup (DESIGN §7)
        month = [(source, periods.month(MONTH[0])) for source in rollup.COUNTS]
        found[ROLLUP_MONTH] = (
            "one month of both tables counted into the rollup (a writer, at most once a minute)",
            lambda run: rollup.refresh(store, db, month, run),
        )
    return found


#: the figure of one month's rollup count: what a writer pays per month its batches touched,
#: at most once a minute (``rollup.Refresher``)
ROLLUP_MONTH = "rollup_refresh_month"


def _metrics(db: str, dim: str, period: tuple[datetime | None, datetime | None] = (None, None)) -> TimedQuery:
    def call(run: Query) -> object:
        return metrics(run, db, dim, period[0], period[1], now=NOW)

    return call


def run(
    cases: int = 1_000_000,
    backend: Backend = Backend.chdb,
    rounds: int = 3,
    merged: bool = False,
    years: int = 1,
    keep: Path | None = None,
) -> Result:
    with built("queries", backend, cases, merged, years, keep) as made:
        rows = table_rows(made.store, made.db)
        figures, quantiles = _timed(made.store, made.db, rounds, rows)
        version = made.store.server_version()
        layout = _layout(made.store, made.where.cluster)
    total = sum(figures[key].seconds for key in ONE_DIMENSION) * 1000
    # what the quantiles add to a statement: one alone, less the same GROUP BY counting rows
    added = max(0.0, figures[ONE_QUANTILE].seconds - figures[ONE_COUNT].seconds) * 1000
    ratios = [
        Ratio(f"{key}_vs_ceiling", f"{fig.label} / plain GROUP BY", key, CEILING)
        for key, fig in figures.items()
        if key != CEILING
    ]
    notes = {
        "store": f"{backend} (ClickHouse {version}{layout})",
        "cases": cases,
        "rounds": rounds,
        "years": f"{years} (reported {2026 - years}-01-01 to 2026-01-01)",
        "parts": "merged (OPTIMIZE … FINAL)" if merged else "as inserted",
        "table_rows": rows,
        "one_dimension": " + ".join(ONE_DIMENSION),
        "one_dimension_total_ms": round(total, 1),
        "design_target_ms": TARGET_MS,
        "one_dimension_total_vs_target": round(total / TARGET_MS, 2),
        "one_dimension_exact_quantiles": quantiles,
        "one_dimension_exact_quantiles_add_ms": round(added * quantiles, 1),
    }
    return Result("civicloop bench queries", figures, ratios, notes, unit="rows", in_ms=True)


def _layout(store: Store, cluster: str) -> str:
    """``, 2 shards × 2 replicas`` on a cluster, else nothing."""
    if not cluster:
        return ""
    ((shards, nodes),) = store.query(
        "SELECT uniqExact(shard_num), count() FROM system.clusters WHERE cluster = %(cluster)s",
        {"cluster": cluster},
    )
    return f", {shards} shards × {nodes // shards} replicas"


@dataclass(frozen=True)
class Built:
    """Synthetic projections ready to time: the open store, their database, where it is, and
    the run's temp dir (gone when the run ends)."""

    store: Store
    db: str
    where: Target
    tmp: Path


@contextmanager
def built(
    name: str, backend: Backend, cases: int, merged: bool = False, years: int = 1, keep: Path | None = None
) -> Iterator[Built]:
    """A fresh database of ``cases`` synthetic cases' projections on ``backend`` for the bench
    ``name``; the store closed and the database gone when the run ends (``stores.target``).

    ``keep`` (chDB only): the projections live in that directory instead and stay there; a
    later run with the same cases, years and merging reuses them (generating 10 M cases takes
    minutes), after laying out any table added since and counting the months whose rollup is
    not current."""
    if keep is not None and backend is not Backend.chdb:
        raise ValueError("--keep keeps a chDB directory; a server's database is dropped after the run")
    db = f"bench{uuid.uuid4().hex[:8]}" if keep is None else kept_name(cases, years, merged)
    with tempfile.TemporaryDirectory(prefix=f"civicloop-bench-{name}-") as tmp:
        with target(backend, Path(tmp), [db]) if keep is None else _kept(keep) as where:
            store = open_store(where.url, cluster=where.cluster)
            try:
                if keep is None or not _complete(store, db, cases):
                    if keep is not None:
                        store.drop_database(db)  # a build cut short
                    build(store, db, cases, merged, years)
                else:
                    store.lay_out(db)  # a table added since it was built
                    rollup.refresh_all(store, db, sorted(rollup.stale(store.query, db)))
                yield Built(store, db, where, Path(tmp))
            finally:
                store.close()


def kept_name(cases: int, years: int, merged: bool) -> str:
    """The database of a kept build: one per (cases, years, merged)."""
    return f"bench_{cases}_{years}y{'_merged' if merged else ''}"


@contextmanager
def _kept(directory: Path) -> Iterator[Target]:
    directory.mkdir(parents=True, exist_ok=True)
    yield Target(f"chdb://{directory.resolve()}")


#: a kept build is complete once this marker table exists (written last)
_DONE = "bench_built"


def _complete(store: Store, db: str, cases: int) -> bool:
    found = store.query(
        "SELECT count() FROM system.tables WHERE database = %(db)s AND name = %(name)s",
        {"db": db, "name": _DONE},
    )
    if not int(found[0][0]):
        return False
    return int(store.query(f"SELECT count() FROM {db}.{schema.CASE_LIFECYCLE} FINAL")[0][0]) == cases


def build(store: Store, db: str, cases: int, merged: bool = False, years: int = 1) -> None:
    """Create civicloop's tables in ``db`` and fill them with ``cases`` synthetic cases
    reported over ``years``;
    ``merged``: then merge each month's parts into one, as background merges do in time."""
    if merged and store.sharded:
        raise ValueError("--merged merges one server's tables; a cluster's are Distributed")
    store.lay_out(db)
    _check_columns(store, db)
    statements = synthetic.inserts(db, cases, years)
    with progress() as bar:
        task = bar.add_task(f"building {cases:,} cases' projections", total=len(statements))
        for sql in statements:
            store.command(sql)
            bar.advance(task)
    # The months counted into the rollup, as the projector's batches leave it (all time reads it).
    rollup.refresh_all(store, db)
    if merged:
        for table in (*periods.PERIOD_COLUMNS, schema.METRIC_ROLLUP, schema.BACKLOG_ROLLUP):
            store.command(f"OPTIMIZE TABLE {db}.{table} FINAL")
    store.command(f"CREATE TABLE IF NOT EXISTS {db}.{_DONE} (at DateTime) ENGINE = Log")


def _check_columns(store: Store, db: str) -> None:
    """The synthetic rows must fill every column the DDL has, and no other."""
    present = schema.column_types(store, db)
    for table, made in (
        (schema.CASE_LIFECYCLE, synthetic.CASE_COLUMNS),
        (schema.CASE_TASKS, synthetic.TASK_COLUMNS),
    ):
        columns = {column for (t, column) in present if t == table}
        if columns != set(made):
            raise RuntimeError(
                f"tools/bench/synthetic.py is out of step with {table}.sql: "
                f"missing {sorted(columns - set(made))}, "
                f"unknown {sorted(set(made) - columns)}"
            )


def table_rows(store: Store, db: str) -> dict[str, int]:
    """Rows in each table (duplicates that FINAL collapses included; on a cluster, one
    replica of each shard: the rows a query reads)."""
    return {
        table: int(store.query(f"SELECT count() FROM {db}.{table}")[0][0])
        for table in (schema.CASE_LIFECYCLE, schema.CASE_TASKS, schema.METRIC_ROLLUP, schema.BACKLOG_ROLLUP)
    }


def _timed(store: Store, db: str, rounds: int, rows: dict[str, int]) -> tuple[dict[str, Figure], int]:
    """Every query's figure (with the rows it scanned) and the profile's, and how many
    exact-quantile aggregates the statements of one dimension hold."""
    found = queries(db, store)
    scanned, statements = {}, []
    for key, (_, query) in found.items():  # one untimed pass: warms caches, finds the tables
        spy = _Tables(store, db)
        query(spy)
        scanned[key] = sum(rows.get(t, 0) for t in spy.read)
        if key in ONE_DIMENSION:
            statements.extend(spy.statements)
    loops = {key: (label, _bound(query, store)) for key, (label, query) in found.items()}
    profile = _profile(store, db, statements, rows)
    loops.update({key: (label, loop) for key, (label, loop, _) in profile.items()})
    scanned.update({key: n for key, (_, _, n) in profile.items()})
    with progress() as bar:
        bar.add_task(f"timing {len(loops)} queries, best of {rounds}", total=None)
        figures = timed(0, loops, rounds)
    quantiles = sum(sql.count(QUANTILES) for sql, _ in statements)
    return {key: replace(fig, events=scanned[key]) for key, fig in figures.items()}, quantiles


#: the profile's figures of one exact-quantile aggregate and of the same GROUP BY counting rows;
#: how the metric SQL spells an exact quantile
ONE_QUANTILE, ONE_COUNT, QUANTILES = "one_exact_quantile", "one_count", "quantilesExactIf("


def _profile(
    store: Store, db: str, statements: list[tuple[str, Params | None]], rows: dict[str, int]
) -> dict[str, tuple[str, Callable[[], object], int]]:
    """Where the time of one dimension goes: each statement it runs as run and without
    ``FINAL`` (the difference is collapsing row versions; the rest is the scan and the
    aggregates), and one exact-quantile aggregate against the same ``GROUP BY`` counting rows
    (the difference is what each of the metrics' exact quantiles adds: a sort of every value
    in its group)."""
    found: dict[str, tuple[str, Callable[[], object], int]] = {}
    for i, (sql, params) in enumerate((s for s in statements if re.search(rf"\bFROM {db}\.", s[0])), 1):
        (table,) = set(re.findall(rf"\bFROM {db}\.(\w+)", sql))
        plain = re.sub(r"\bFINAL\b", "", sql)
        aggregates = sql.count(QUANTILES)
        found[f"statement_{i}"] = (
            f"one dimension, statement {i} ({table}; exact quantiles: {aggregates})",
            partial(store.query, sql, params),
            rows[table],
        )
        found[f"statement_{i}_no_final"] = (
            "  the same without FINAL",
            partial(store.query, plain, params),
            rows[table],
        )
    table = schema.CASE_LIFECYCLE
    found[ONE_COUNT] = (
        "count(), GROUP BY lead_department, no FINAL",
        partial(store.query, f"SELECT lead_department, count() FROM {db}.{table} GROUP BY lead_department"),
        rows[table],
    )
    found[ONE_QUANTILE] = (
        "one exact-quantile aggregate, GROUP BY lead_department, no FINAL",
        partial(
            store.query,
            f"SELECT lead_department, quantilesExact(0.5, 0.9, 0.99)(toInt64(updated_at)) "
            f"FROM {db}.{table} GROUP BY lead_department",
        ),
        rows[table],
    )
    return found


def _bound(query: TimedQuery, store: Store) -> Callable[[], object]:
    return lambda: query(store.query)
