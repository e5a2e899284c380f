"""The closed-loop counts of every month, kept beside the projection as a cache that all time
sums instead of reading every case (``metric_rollup``, docs/DESIGN.md §5, §7).

**What a month's rows say.** Per (source table, partition month, dimension, value), every count
of ``sql.py`` over all time that does not depend on the moment it is read, counted from the
table with ``FINAL`` — all dimensions in one pass — and stamped with the month's *block
number*: the highest block of the partition's active parts (``system.parts``), read before the
count. Every insert into a partition gets a higher block number and a merge keeps the highest
of the parts it merges, so the month holds exactly what was counted as long as its block
number is still the stamp. Nothing is ever added to a stored count: a count is always of the
whole month, and an equal stamp means the same rows.

**Read** for all time (``metrics`` without bounds, filters or a series): per (source, month) the
rows of its highest stamp (a value gone from a month keeps an older one), used only where that
stamp is the month's block number now; every other month — written since it was counted, or
never counted — is counted from the table by the metric queries themselves, restricted to
those months. So the figures are exact whatever the rollup holds: a redelivered, replayed or
out-of-order batch, a writer killed before it counted, two writers counting one month. What
depends on the moment of reading — the open cases overdue as of now — and the exact
report→close quantiles, which need every value, come from one narrow read of
``case_lifecycle`` (``scan_sql``); the task table is read only for months not counted.

**Written** by the projector's writer (:class:`Refresher`): the months its batches touch (their
``period_spans`` rows) are counted again at most every ``EVERY_S`` seconds, after the batch's
marker, and by the replay before it switches; a writer starting counts the months written
since their count (a writer killed before it counted). On a sharded store each node's parts carry their
own block numbers, which the entry node cannot see, so a cluster keeps the table (laid out like
the others) but neither writes nor reads it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from civicloop import log
from civicloop.projections.metrics import settled
from civicloop.projections.metrics import sql as q
from civicloop.projections.metrics.months import blocks, condition
from civicloop.projections.metrics.scope import Scope
from civicloop.projections.store.base import Query, Store, literal
from civicloop.projections.tables import periods, schema

ROLLUP = schema.METRIC_ROLLUP
#: source table → the counts its rows fill (the other source's are 0)
COUNTS: dict[str, tuple[str, ...]] = {
    q.CASES: schema.ROLLUP_CASE_COUNTS,
    q.TASKS: schema.ROLLUP_TASK_COUNTS,
}
#: every count of the table, in table order
ALL_COUNTS = schema.ROLLUP_CASE_COUNTS + schema.ROLLUP_TASK_COUNTS
#: the measures of ``sql.py`` over all time, by source, that do not depend on the moment read
_MEASURES: dict[str, list[tuple[str, str]]] = {
    q.CASES: [m for m in q.case_measures(None, None, None) if m[0] in schema.ROLLUP_CASE_COUNTS],
    q.TASKS: q.task_measures(None, None),
}
for _source, _names in COUNTS.items():
    if tuple(name for name, _ in _MEASURES[_source]) != _names:
        raise RuntimeError(f"metric_rollup's {_source} counts are out of step with metrics/sql.py")
#: what the all-time read takes from case_lifecycle itself
SCANNED = ("open_overdue", "report_to_close")
#: how often a writer counts the months its batches touched, at most (seconds)
EVERY_S = 60.0
#: a month of a source table
Month = tuple[str, int]

_log = log.get(__name__)


def available(run: Query, db: str) -> bool:
    """Whether ``db`` keeps a rollup that can be read: it has one (a deployment made before it
    does not, ``schema.names``) and its tables are on this node (not a cluster's Distributed)."""
    sql = "SELECT name, engine FROM system.tables WHERE database = %(db)s AND name IN (%(rollup)s, %(cases)s)"
    found: dict[str, str] = {
        str(n): str(e) for n, e in run(sql, {"db": db, "rollup": ROLLUP, "cases": q.CASES})
    }
    return ROLLUP in found and found.get(q.CASES) not in (None, "Distributed")


def touched(spans: Iterable[Mapping[str, Any]]) -> set[Month]:
    """The (source, month) pairs a batch's ``period_spans`` rows name."""
    found = set()
    for span in spans:
        source = span["source"]  # bytes from an Arrow table (String columns are binary there)
        source = source.decode() if isinstance(source, bytes) else str(source)
        if source in COUNTS:
            found.add((source, int(span["month"])))
    return found


def count_sql(db: str, months: Iterable[Month]) -> q.Named:
    """Per source, month of ``months``, dimension and value: the counts (the other source's 0),
    read with ``FINAL`` from those months only — one statement for both tables."""
    by_source: dict[str, list[int]] = {}
    for source, month in months:
        by_source.setdefault(source, []).append(month)
    dims = [dim for dim in q.DIMENSIONS if dim != "all"] + ["all"]
    names = "[" + ", ".join(f"'{dim}'" for dim in dims) + "]"
    parts = []
    for source, found in sorted(by_source.items()):
        key = periods.PERIOD_COLUMNS[source][0]
        values = "[" + ", ".join(q.group_expr(dim, source) for dim in dims) + "]"
        measures = dict(_MEASURES[source])
        columns = [
            ("source", f"'{source}'"),
            ("month", f"toYYYYMM({key})"),
            ("dimension", "d_name"),
            ("value", "d_value"),
            *((name, measures.get(name, "toUInt64(0)")) for name in ALL_COUNTS),
        ]
        table = f"(SELECT * FROM {db}.{source} FINAL WHERE {condition(key, found)})"
        parts.append(
            q.select(
                columns,
                f"{table}\n    ARRAY JOIN {names} AS d_name, {values} AS d_value",
                "GROUP BY month, dimension, value",
            )
        )
    return q.Named("\nUNION ALL".join(part.sql for part in parts), parts[0].names)


def snapshot_rows(counted: Sequence[Mapping[str, Any]], stamps: Mapping[Month, int]) -> list[dict[str, Any]]:
    """The ``metric_rollup`` rows of ``count_sql``'s rows, each stamped with its month's block
    number as read before the count (``stamps``)."""
    rows = []
    for r in counted:
        month: Month = (str(r["source"]), int(r["month"]))
        if month in stamps:
            rows.append(
                {
                    "source": month[0],
                    "month": month[1],
                    "dimension": str(r["dimension"]),
                    "value": str(r["value"]),
                    "snapshot": stamps[month],
                    **{name: int(r[name]) for name in ALL_COUNTS},
                }
            )
    return rows


def refresh(store: Store, db: str, months: Iterable[Month], read: Query | None = None) -> int:
    """Count ``months`` again and write them stamped with their block numbers, read first (a
    row written after that makes the month's block number higher than the stamp); the rows
    written (``read``: what counts, the store's ``query`` by default)."""
    run = read or store.query
    stamps = blocks(run, db)
    wanted = sorted(m for m in set(months) if m in stamps)
    if not wanted:
        return 0
    written = store.insert(f"{db}.{ROLLUP}", snapshot_rows(q.named(run, count_sql(db, wanted)), stamps))
    # the open cases of the same months, at the same stamps, into their own table
    settled.refresh(store.command if read is None else read, db, wanted, stamps)
    return written


def refresh_all(store: Store, db: str, months: Sequence[Month] | None = None, step: int = 24) -> int:
    """Count every month of both tables (or ``months``) again, ``step`` months per statement:
    e.g. the benchmarks' synthetic database, filled other than by the projector."""
    months = sorted(blocks(store.query, db)) if months is None else months
    return sum(refresh(store, db, months[i : i + step]) for i in range(0, len(months), step))


def counted(run: Query, db: str) -> tuple[list[tuple[str, int, int]], list[Month]]:
    """The months whose rollup is current — (source, month, stamp) — and the others."""
    now = blocks(run, db)
    latest = {(str(s), int(m)): int(n) for s, m, n in run(latest_sql(db))}
    current = sorted((s, m, n) for (s, m), n in latest.items() if now.get((s, m)) == n)
    return current, sorted(set(now) - {(s, m) for s, m, _ in current})


def stale(run: Query, db: str) -> set[Month]:
    """The months whose counts or open cases (``settled.py``) are not current."""
    now = blocks(run, db)
    opened = settled.latest(run, db)
    return set(counted(run, db)[1]) | {m for m, n in now.items() if m[0] == q.CASES and opened.get(m) != n}


class Refresher:
    """A writer's months to count again: those its batches touched, and at its start those
    written since they were counted (by a writer killed before it counted), counted at most
    every ``every`` seconds (``now``: count whatever is pending)."""

    def __init__(self, store: Store, db: str, every: float = EVERY_S) -> None:
        self.store, self.db, self.every = store, db, every
        self.pending: set[Month] = set()
        self._last = time.monotonic()
        self._started = False
        self._retry_at = 0.0  # after a failed count: not before

    def add(self, months: Iterable[Month]) -> None:
        """Note ``months``, and count what is pending if the last count is ``every`` ago.

        A count that fails never fails the batch; it is tried again ``every`` seconds later, the
        months kept. The rollup is a cache (a month it does not hold is read from the table), and
        a batch failed for it would be retried forever while the count kept failing."""
        self.pending.update(months)
        now = time.monotonic()
        if now < self._retry_at:
            return
        try:
            if not self._started:
                self.pending.update(stale(self.store.query, self.db))
                self._started = True
            if self.pending and now - self._last >= self.every:
                self.now()
        except Exception as exc:  # any failure of a cache: logged, tried again
            self._retry_at = now + self.every
            _log.warning("rollup_count_failed", months=len(self.pending), error=str(exc)[:300])

    def now(self) -> None:
        if self.pending:
            refresh(self.store, self.db, self.pending)
            self.pending.clear()
        self._last = time.monotonic()


def latest_sql(db: str) -> str:
    """Per (source, month): its highest stamp."""
    return f"SELECT source, month, max(snapshot) FROM {db}.{ROLLUP} GROUP BY source, month"


def sums_sql(db: str, counted: Sequence[tuple[str, int, int]]) -> q.Named:
    """Per value of ``%(dimension)s``: every count summed over the ``counted`` (source, month,
    stamp) snapshots."""
    # ('', 0, 0) matches no row; with it the list is never one tuple (read as three values)
    keys = ", ".join(f"({literal(s)}, {m}, {n})" for s, m, n in [*counted, ("", 0, 0)])
    return q.select(
        [("grp", "value"), *((name, f"sum({name})") for name in ALL_COUNTS)],
        f"{db}.{ROLLUP} FINAL",
        "GROUP BY grp",
        f"dimension = %(dimension)s AND (source, month, snapshot) IN ({keys})",
    )


def scan_sql(db: str, dim: str, as_of: Any) -> q.Named:
    """What all time reads from ``case_lifecycle`` itself: the open cases overdue as of
    ``as_of`` and the exact report→close quantiles, per group."""
    return q.case_metrics_sql(db, dim, None, None, as_of, only=SCANNED)


def uncounted_sql(db: str, dim: str, source: str, months: Sequence[int]) -> q.Named:
    """The rollup's counts of ``source`` per group, over ``months`` only, from the table."""
    scope = Scope(months={source: condition(periods.PERIOD_COLUMNS[source][0], list(months))})
    if source == q.CASES:
        return q.case_metrics_sql(db, dim, None, None, None, scope, only=schema.ROLLUP_CASE_COUNTS)
    return q.task_metrics_sql(db, dim, None, None, scope)


def all_time(run: Query, db: str, dim: str, as_of: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows of the case and the task query over all time (``closed_loop.combine``'s
    input): the counted months from the rollup, the others from the tables, and the open
    overdue cases and the quantiles from one narrow read of ``case_lifecycle``."""
    current, left = counted(run, db)
    totals: dict[str, dict[str, Any]] = {}

    def add(row: Mapping[str, Any], names: Sequence[str]) -> None:
        into = totals.setdefault(row["grp"], {"grp": row["grp"], **dict.fromkeys(ALL_COUNTS, 0)})
        for name in names:
            into[name] += int(row[name])

    if current:
        for row in q.named(run, sums_sql(db, current), {"dimension": dim}):
            add(row, ALL_COUNTS)
    for source in COUNTS:
        months = [m for s, m in left if s == source]
        if months:
            for row in q.named(run, uncounted_sql(db, dim, source, months)):
                add(row, COUNTS[source])
    cases = []
    for row in q.named(run, scan_sql(db, dim, as_of)):
        found = totals.get(row["grp"]) or {"grp": row["grp"], **dict.fromkeys(ALL_COUNTS, 0)}
        cases.append({**found, **{name: row[name] for name in SCANNED}})
    return cases, list(totals.values())


def values(run: Query, db: str, columns: Mapping[str, str]) -> dict[str, set[str]]:
    """Every value each dimension of ``columns`` (dimension → the case table's column) takes
    over all time in the rows as they are now (``FINAL``), the department's on either table:
    the counted months' from the rollup, the others' from the tables."""
    current, left = counted(run, db)
    found: dict[str, set[str]] = {dim: set() for dim in columns}
    keys = ", ".join(f"({literal(s)}, {m}, {n})" for s, m, n in [*current, ("", 0, 0)])
    sql = (
        f"SELECT source, dimension, groupUniqArray(value) FROM {db}.{ROLLUP} "
        f"WHERE dimension IN %(dims)s AND (source, month, snapshot) IN ({keys}) GROUP BY source, dimension"
    )
    for source, dim, seen in run(sql, {"dims": tuple(columns)}):
        if source == q.CASES or dim == "department":
            found[str(dim)] |= {str(v) for v in seen if v}
    for source in COUNTS:
        months = [m for s, m in left if s == source]
        on = (
            columns
            if source == q.CASES
            else {d: q.group_expr(d, source) for d in columns if d == "department"}
        )
        if months and on:
            key = periods.PERIOD_COLUMNS[source][0]
            picked = ", ".join(f"groupUniqArray({column})" for column in on.values())
            for row in run(f"SELECT {picked} FROM {db}.{source} FINAL WHERE {condition(key, months)}"):
                for dim, seen in zip(on, row, strict=True):
                    found[dim] |= {str(v) for v in seen if v}
    return found
