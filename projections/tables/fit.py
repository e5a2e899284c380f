"""Rows checked against their columns' types before any row of a batch is written.

ClickHouse's types are narrower than Python's: a ``UInt16`` count stops at 65,535, a
``DateTime`` at 2106-02-07. The server refuses a value outside (the driver raises), chDB
silently clamps it (300 → 255, 2999 → 2106) — and a batch the store half wrote before refusing
would leave rows of the offending message behind. So the projector checks every row of a batch
here first: a value that does not fit raises :class:`StoreRejected` before the first write, and
the projector splits the batch to find the message it came from (docs/TRUST.md §2). Only the
narrow types are checked (integers up to 32 bits, DateTime); strings and 64-bit numbers fit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from civicloop.projections.store.base import Store, StoreRejected
from civicloop.projections.tables.schema import column_types

DATETIME_MIN = datetime(1970, 1, 1, tzinfo=UTC)
DATETIME_MAX = datetime(2106, 2, 7, 6, 28, 15, tzinfo=UTC)
_NARROW: dict[str, tuple[Any, Any]] = {
    "UInt8": (0, 2**8 - 1), "UInt16": (0, 2**16 - 1), "UInt32": (0, 2**32 - 1),
    "Int8": (-(2**7), 2**7 - 1), "Int16": (-(2**15), 2**15 - 1), "Int32": (-(2**31), 2**31 - 1),
    "DateTime": (DATETIME_MIN, DATETIME_MAX),
}  # fmt: skip

Bounds = list[tuple[str, str, Any, Any]]  # (column, type, lowest, highest)


def bounds(types: Mapping[str, str]) -> Bounds:
    """The checked columns among ``types`` (column → ClickHouse type), with their ranges."""
    found = []
    for column, ch_type in types.items():
        inner = ch_type.removeprefix("Nullable(").removesuffix(")")
        base = inner.split("(", 1)[0]  # DateTime('UTC') → DateTime
        if base in _NARROW:
            found.append((column, inner, *_NARROW[base]))
    return found


def check(table: str, checked: Bounds, rows: Sequence[Mapping[str, Any]]) -> None:
    """Raise :class:`StoreRejected` naming the first value of ``rows`` outside its column."""
    for column, ch_type, lowest, highest in checked:
        values = [value for row in rows if (value := row.get(column)) is not None]
        if not values or (lowest <= min(values) and max(values) <= highest):
            continue
        bad = next(v for v in values if not lowest <= v <= highest)
        raise StoreRejected("out_of_range", f"{table}.{column} = {bad!r} does not fit {ch_type}")


class Columns:
    """The checked columns of every table of one database, read from the store once."""

    def __init__(self, store: Store, database: str) -> None:
        self.store, self.database = store, database
        self._bounds: dict[str, Bounds] | None = None

    def check(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        if self._bounds is None:
            by_table: dict[str, dict[str, str]] = {}
            for (name, column), ch_type in column_types(self.store, self.database).items():
                by_table.setdefault(name, {})[column] = ch_type
            self._bounds = {name: bounds(types) for name, types in by_table.items()}
        check(table, self._bounds.get(table, []), rows)
