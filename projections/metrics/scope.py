"""Which rows a metric query reads, beyond its period: filters, and series of periods.

Every figure a person sees comes from the metric queries of ``sql.py`` (docs/DESIGN.md §5);
a :class:`Scope` narrows or repeats them without a second copy of any definition:

* ``filters`` — dimension → value (``{"department": "roads", "channel": "app"}``): only the
  rows of that value, through the same column the dimension groups by (``sql.DIMENSIONS``:
  the lead department on case tables, the task's own department on the task table). Values
  are bound as query parameters (``%(f_department)s``), never written into the SQL text.
* ``periods`` — a series: each row is read once per period (``ARRAY JOIN`` over the
  periods' bounds) and the query groups by the period's start instead of the dimension, so
  one scan gives every period what one query per period would. Before the join, only rows
  with one of the query's period columns inside the series' span are kept: any other row
  counts in no period.

* ``months`` — table name → a condition on its partition column that keeps only the months a
  period can count in (``months.py``, from ``period_spans``); set by the query functions, not
  by callers. Every version of a row is in one month, so dropping whole months before
  ``FINAL`` changes no result.

Without filters, periods and months a query's text is exactly what it was without a scope.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from civicloop.projections.store.base import literal

#: the SQL names of a series' period bounds (columns made by the ARRAY JOIN)
PERIOD_FROM, PERIOD_TO = "p_from", "p_to"


@dataclass(frozen=True)
class Scope:
    filters: Mapping[str, str] = field(default_factory=dict)
    periods: Sequence[tuple[datetime, datetime]] = ()
    months: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if "all" in self.filters:
            raise ValueError("cannot filter on 'all'; name a dimension such as department")
        for start, end in self.periods:
            if not start < end:
                raise ValueError(f"a period must end after it starts: [{start}, {end})")

    @property
    def series(self) -> bool:
        return bool(self.periods)

    def params(self) -> dict[str, Any] | None:
        """The query parameters of the filters (None when there are none: the SQL is run as is)."""
        return {f"f_{dim}": value for dim, value in self.filters.items()} or None

    def bounds(
        self, t_from: datetime | None, t_to: datetime | None, as_of: datetime | None = None
    ) -> tuple[Any, Any, Any]:
        """The period bounds and ``as_of`` a query uses: its own, or a series' bound columns
        (``as_of`` = min(period end, the given moment), per period)."""
        if not self.series:
            return t_from, t_to, as_of
        return PERIOD_FROM, PERIOD_TO, None if as_of is None else f"least({PERIOD_TO}, {literal(as_of)})"

    def group(self, expr: str) -> str:
        """What the query groups by: the dimension's expression, or a series' period start."""
        return PERIOD_FROM if self.series else expr

    def source(self, table: str, columns: Mapping[str, str], period_columns: Sequence[str]) -> str:
        """The FROM clause for ``table`` (``db.name``, read with ``FINAL``); ``columns`` maps
        each filtered dimension to its column in that table, ``period_columns`` are the
        columns whose times put a row into a period."""
        where = [f"{columns[dim]} = %(f_{dim})s" for dim in self.filters]
        keep = self.months.get(table.rpartition(".")[2])
        if keep is not None:
            where.append(keep)
        if self.series:
            lo = literal(min(start for start, _ in self.periods))
            hi = literal(max(end for _, end in self.periods))
            touched = " OR ".join(f"ifNull({c} >= {lo} AND {c} < {hi}, 0)" for c in period_columns)
            where.append(f"({touched})")
        if not where:
            return f"{table} FINAL"
        inner = f"(SELECT * FROM {table} FINAL WHERE {' AND '.join(where)})"
        if not self.series:
            return inner
        starts = _array(start for start, _ in self.periods)
        ends = _array(end for _, end in self.periods)
        return f"{inner}\n    ARRAY JOIN {starts} AS {PERIOD_FROM}, {ends} AS {PERIOD_TO}"


#: the whole table, grouped by the dimension: what ``civicloop metrics`` reads without filters
WHOLE = Scope()


def _array(moments: Any) -> str:
    return "[" + ", ".join(literal(m) for m in moments) + "]"
