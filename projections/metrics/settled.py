"""The backlog over the months that have settled, from ``backlog_rollup`` (docs/DESIGN.md §7).

A case reported 30 days or more before the backlog's moment t is in its oldest age bucket, and
overdue there exactly when it has a deadline before t. So once a month has *settled* at t —
every case of it reported 30 days before t, closed or voided (if ever) by t, and every open
case's deadline (if any) before t — its part of the backlog at t is its open cases: those with
a deadline overdue, the others not, all ``>=30d``. Per (partition month, dimension, value) the
rollup keeps the open cases, those of them with a deadline, and ``settled_at``, the moment from
which the month has settled; counted from the table with ``FINAL`` by one ``INSERT … SELECT``
and stamped with the month's block number like ``metric_rollup``'s counts (``rollup.py``), in
the same refresh, with its own stamps (a writer killed between the two leaves these months not
current, read from the table). The backlog at t takes from here the months whose stamp is
still their block number and which have settled by t, and reads every other month from the
table (partition pruning): in a city's decade, the last month or two.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from civicloop.projections.metrics import sql as q
from civicloop.projections.metrics.months import blocks, condition
from civicloop.projections.metrics.scope import Scope
from civicloop.projections.store.base import Query
from civicloop.projections.tables import periods, schema

OPEN = schema.BACKLOG_ROLLUP
#: the backlog's oldest age bucket (``sql.backlog_sql``), where a settled month's open cases are
OLDEST, OLDEST_LABEL = q.AGE_BUCKETS[-1][0], ">=30d"
_OPEN = "closed_at IS NULL AND voided_at IS NULL"
_NEVER = "toDateTime(0, 'UTC')"


def count_sql(db: str, months: Iterable[int], stamps: Mapping[int, int], into: str = OPEN) -> str:
    """``INSERT … SELECT``: the open cases and ``settled_at`` of ``months`` of the case table,
    read with ``FINAL``, by every dimension and value, each month stamped with its block
    number in ``stamps``, into ``into`` (a table laid out as ``backlog_rollup``)."""
    wanted = sorted(set(months))
    key = periods.PERIOD_COLUMNS[q.CASES][0]
    dims = [dim for dim in q.DIMENSIONS if dim != "all"] + ["all"]
    names = "[" + ", ".join(f"'{dim}'" for dim in dims) + "]"
    values = "[" + ", ".join(q.group_expr(dim, q.CASES) for dim in dims) + "]"
    stamp = f"transform(toUInt64(month), [{', '.join(str(m) for m in wanted)}], "
    stamp += f"[{', '.join(f'toUInt64({stamps[m]})' for m in wanted)}], toUInt64(0))"
    due = f"if({_OPEN} AND due_at IS NOT NULL, assumeNotNull(due_at) + 1, {_NEVER})"
    ended = f"greatest(ifNull(closed_at, {_NEVER}), ifNull(voided_at, {_NEVER}))"
    latest = f"greatest(greatest(reported_at + {OLDEST}, {ended}), {due})"  # 18.16: two at a time
    columns = [
        ("month", f"toUInt32(toYYYYMM({key}))"),
        ("dimension", "d_name"),
        ("value", "d_value"),
        ("snapshot", stamp),
        ("open", f"countIf({_OPEN})"),
        ("open_due", f"countIf({_OPEN} AND due_at IS NOT NULL)"),
        ("settled_at", f"max({latest})"),
    ]
    table = f"(SELECT * FROM {db}.{q.CASES} FINAL WHERE {condition(key, wanted)})"
    select = q.select(
        columns,
        f"{table}\n    ARRAY JOIN {names} AS d_name, {values} AS d_value",
        "GROUP BY month, dimension, value",
    )
    return f"INSERT INTO {db}.{into} ({', '.join(select.names)}){select.sql}"


def refresh(
    run: Callable[[str], object], db: str, months: Iterable[tuple[str, int]], stamps: Mapping[Any, int]
) -> None:
    """Count the case table's ``months`` again, stamped with ``stamps`` (read before)."""
    found = sorted(m for s, m in months if s == q.CASES and (s, m) in stamps)
    if found:
        run(count_sql(db, found, {m: stamps[(q.CASES, m)] for m in found}))


def latest(run: Query, db: str) -> dict[tuple[str, int], int]:
    """(case table, month) → its highest stamp here."""
    found = run(f"SELECT month, max(snapshot) FROM {db}.{OPEN} GROUP BY month")
    return {(q.CASES, int(m)): int(n) for m, n in found}


def backlog(run: Query, db: str, dim: str, as_of: datetime, scope: Scope) -> list[dict[str, Any]] | None:
    """``backlog_sql``'s rows: the settled months from the rollup, the others from the table;
    None where the rollup cannot say (a series or months of a scope, more than one filter, a
    filter on another dimension than ``dim`` unless ``dim`` is ``all``, or the case table
    written while it read)."""
    if scope.series or scope.months or len(scope.filters) > 1:
        return None
    on, value = next(iter(scope.filters.items()), (dim, None))  # the rollup's rows to read
    if on != dim and dim != "all":
        return None
    before = blocks(run, db)
    settled, rows = _settled(run, db, on, value, dim, before, int(as_of.timestamp()))
    rest = sorted(m for s, m in before if s == q.CASES and m not in settled)
    if rest:
        read = Scope(
            dict(scope.filters), months={q.CASES: condition(periods.PERIOD_COLUMNS[q.CASES][0], rest)}
        )
        for r in q.named(run, q.backlog_sql(db, dim, as_of, read), read.params()):
            key = (str(r["grp"]), str(r["age_bucket"]), bool(int(r["overdue"])))
            rows[key] = rows.get(key, 0) + int(r["cases"])
    if blocks(run, db) != before:
        return None
    ordered = sorted(rows.items(), key=lambda item: (item[0][0].encode(), item[0][1].encode(), item[0][2]))
    return [{"group": g, "age_bucket": b, "overdue": o, "cases": n} for (g, b, o), n in ordered if n]


def _settled(
    run: Query, db: str, on: str, value: str | None, dim: str, now: Mapping[tuple[str, int], int], moment: int
) -> tuple[set[int], dict[tuple[str, str, bool], int]]:
    """The months current here and settled by ``moment``, and their backlog rows by group."""
    current = [(m, n) for (s, m), n in latest(run, db).items() if now.get((s, m)) == n]
    if not current:
        return set(), {}
    keys = ", ".join(f"({m}, {n})" for m, n in [*current, (0, 0)])  # never one tuple
    where = f"dimension = %(dim)s AND (month, snapshot) IN ({keys})"
    where += "" if value is None else " AND value = %(value)s"
    found = run(
        f"SELECT month, value, open, open_due, toInt64(settled_at) FROM {db}.{OPEN} FINAL WHERE {where}",
        {"dim": on, "value": value},
    )
    settled = {m for m, _ in current} - {int(m) for m, _, _, _, at in found if int(at) > moment}
    rows: dict[tuple[str, str, bool], int] = {}
    for month, v, n, due, _ in found:
        if int(month) in settled:
            group = "" if dim == "all" else str(v)
            for overdue, count in ((False, int(n) - int(due)), (True, int(due))):
                rows[(group, OLDEST_LABEL, overdue)] = rows.get((group, OLDEST_LABEL, overdue), 0) + count
    return settled, rows
