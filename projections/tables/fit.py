"""Every row of a batch checked against its column's type before the first row is written.

A store refuses a value outside its column (``projections/store/ranges.py``) only when that
table's insert comes — after the batch's earlier tables were written, with rows of the
offending message among them. So the projector checks all of a batch's rows here first: a value
that does not fit raises :class:`StoreRejected` before anything is written, and the split that
finds the message it came from leaves nothing of it behind (docs/TRUST.md §2).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from civicloop.projections.store import ranges
from civicloop.projections.store.base import Store
from civicloop.projections.tables.schema import column_types


class Columns:
    """The checked columns of every table of one database, read from the store once."""

    def __init__(self, store: Store, database: str) -> None:
        self.store, self.database = store, database
        self._bounds: dict[str, ranges.Bounds] | None = None

    def check(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        if self._bounds is None:
            by_table: dict[str, dict[str, str]] = {}
            for (name, column), ch_type in column_types(self.store, self.database).items():
                by_table.setdefault(name, {})[column] = ch_type
            self._bounds = {name: ranges.bounds(types) for name, types in by_table.items()}
        ranges.check(table, self._bounds.get(table, []), rows)
