"""How a projection table is declared: its columns once, and everything derived from them.

A :class:`Table` names each column with its ClickHouse type and, for the tables the fold fills
(``case_lifecycle``, ``case_tasks``), how the row builder fills it; it says which column is the
``ReplacingMergeTree`` version, which columns the table is ordered (keyed) by and what it is
partitioned by. From that one declaration come the ``CREATE TABLE`` statement (:meth:`ddl`, in
the SQL chDB and ClickHouse 18.16 both accept, docs/DESIGN.md §7), the row builder's columns
in table order (``rows.py``) and the column lists the readers select (``read_model``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

#: the column types civicloop uses (second-precision times in UTC, docs/DESIGN.md §7)
STRING = "String"
TIME = "DateTime('UTC')"
MAYBE_TIME = "Nullable(DateTime('UTC'))"

#: how a column is filled: a function of what the row is built from (the tables whose rows
#: are built by hand in their own module declare none, and a test checks those builders)
F = TypeVar("F", bound=Callable[..., object])


@dataclass(frozen=True)
class Column(Generic[F]):
    name: str
    type: str
    fill: F | None = None


@dataclass(frozen=True)
class Table(Generic[F]):
    """One ``ReplacingMergeTree`` table: the row of the highest ``version`` per ``order_by``
    key is kept (read with ``FINAL``); ``partition_by`` (an expression of a column that never
    changes for a key, or empty) splits it by month."""

    name: str
    columns: tuple[Column[F], ...]
    version: str
    order_by: tuple[str, ...]
    partition_by: str = ""

    def __post_init__(self) -> None:
        names = self.names
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: a column is declared twice in {names}")
        unknown = [c for c in (self.version, *self.order_by) if c not in names]
        if unknown:
            raise ValueError(f"{self.name}: {unknown} are not columns of the table")

    @property
    def names(self) -> tuple[str, ...]:
        """The column names, in table order."""
        return tuple(column.name for column in self.columns)

    def types(self) -> dict[str, str]:
        """column → ClickHouse type, in table order."""
        return {column.name: column.type for column in self.columns}

    def ddl(self) -> str:
        """The ``CREATE TABLE IF NOT EXISTS`` statement, with a ``{db}`` placeholder for the
        database (``tables/cluster.py`` derives the cluster's replicated variant from it)."""
        columns = ",\n".join(f"    {column.name} {column.type}" for column in self.columns)
        key = self.order_by[0] if len(self.order_by) == 1 else f"({', '.join(self.order_by)})"
        partition = f"PARTITION BY {self.partition_by}\n" if self.partition_by else ""
        return (
            f"CREATE TABLE IF NOT EXISTS {{db}}.{self.name} (\n{columns}\n) "
            f"ENGINE = ReplacingMergeTree({self.version})\n{partition}ORDER BY {key}\n"
        )
