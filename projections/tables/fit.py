"""Every row of a batch checked against its column's type before the first row is written.

A store refuses a value outside its column (``projections/store/ranges.py``) only when that
table's insert comes — after the batch's earlier tables were written, with rows of the
offending message among them. So the projector checks all of a batch's rows here first: a value
that does not fit raises :class:`StoreRejected` before anything is written, and the split that
finds the message it came from leaves nothing of it behind (docs/TRUST.md §2).

The folded tables are built here as Arrow tables of the columns' types (``store/arrow.py``):
the form chDB inserts and fold processes hand over, checked column by column in C++.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from civicloop.projections.store import arrow, ranges
from civicloop.projections.store.base import Store
from civicloop.projections.tables.schema import column_types


class Given:
    """The checked columns of every table of one database, from types read elsewhere (a fold
    process gets them from its writer)."""

    def __init__(self, types: dict[str, dict[str, str]]) -> None:
        self._types = types
        self._bounds: dict[str, ranges.Bounds] = {}  # per table, from its types when first asked

    def types(self) -> dict[str, dict[str, str]]:
        """table → column → ClickHouse type, for every table of the database."""
        return self._types

    def check(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Raise :class:`StoreRejected` for the first value of ``rows`` its column cannot hold."""
        if rows:
            ranges.check(table, self._bounds_of(table), rows)

    def rows_table(self, table: str, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
        """``rows`` (dicts) as a checked Arrow table of ``table``'s types."""
        return self._checked(table, arrow.table(table, rows, self._columns(table)))

    def columns_table(self, table: str, columns: Mapping[str, list[Any]]) -> pa.Table:
        """``columns`` (name → values) as a checked Arrow table of ``table``'s types."""
        return self._checked(table, arrow.from_columns(table, columns, self._columns(table)))

    def _checked(self, table: str, data: pa.Table) -> pa.Table:
        ranges.check_arrow(table, self._bounds_of(table), data)
        return data

    def _columns(self, table: str) -> list[tuple[str, str]]:
        return list(self.types().get(table, {}).items())

    def _bounds_of(self, table: str) -> ranges.Bounds:
        found = self._bounds.get(table)
        if found is None:
            found = self._bounds[table] = ranges.bounds(self.types().get(table, {}))
        return found


class Columns(Given):
    """:class:`Given` with the types read from the store once, when first needed."""

    def __init__(self, store: Store, database: str) -> None:
        super().__init__({})
        self.store, self.database = store, database
        self._read = False

    def types(self) -> dict[str, dict[str, str]]:
        if not self._read:
            by_table: dict[str, dict[str, str]] = {}
            for (name, column), ch_type in column_types(self.store, self.database).items():
                by_table.setdefault(name, {})[column] = ch_type
            self._types = by_table
            self._read = True
        return self._types
