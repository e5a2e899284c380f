"""The ranges of ClickHouse's narrow column types, and checking values against them.

ClickHouse's types are narrower than Python's: a ``UInt16`` count stops at 65,535, a
``DateTime`` at 2106-02-07. The server refuses a value outside (its driver raises); chDB
silently clamps it (300 → 255, 1900 → 1970, 2999 → 2106), which would corrupt figures without
a word. So both stores check here first and raise :class:`StoreRejected` naming the column and
the value (docs/TRUST.md §2). Only the narrow types are checked (integers up to 32 bits,
DateTime); strings, floats and 64-bit integers hold whatever Python hands them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from civicloop.projections.store.base import StoreRejected

DATETIME_MIN = datetime(1970, 1, 1, tzinfo=UTC)
DATETIME_MAX = datetime(2106, 2, 7, 6, 28, 15, tzinfo=UTC)
_NARROW: dict[str, tuple[Any, Any]] = {
    "UInt8": (0, 2**8 - 1),
    "UInt16": (0, 2**16 - 1),
    "UInt32": (0, 2**32 - 1),
    "Int8": (-(2**7), 2**7 - 1),
    "Int16": (-(2**15), 2**15 - 1),
    "Int32": (-(2**31), 2**31 - 1),
    "DateTime": (DATETIME_MIN, DATETIME_MAX),
}

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


def check_arrow(table: str, checked: Bounds, data: pa.Table) -> None:
    """:func:`check` for an Arrow table (columnar, in C++), as chDB's insert builds it."""
    for column, ch_type, lowest, highest in checked:
        if column not in data.column_names:
            continue
        extremes = pc.min_max(data[column]).as_py()
        low, high = extremes["min"], extremes["max"]
        if low is None or (lowest <= low and high <= highest):
            continue
        bad = low if not lowest <= low else high
        raise StoreRejected("out_of_range", f"{table}.{column} = {bad!r} does not fit {ch_type}")
