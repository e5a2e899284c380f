"""Rows as Arrow tables: the form chDB inserts, and the form fold processes hand to the writer.

A table of rows is built column by column in C++ (``pa.Table.from_pylist``), not cell by cell in
Python, and crosses a process boundary as one Arrow IPC buffer (``to_bytes`` / ``from_bytes``:
a copy, no per-row pickling). The column types follow the ClickHouse table's: ``DateTime`` as
second timestamps in UTC, integers as ``int64``, ``String`` as bytes (ClickHouse strings are
bytes; an event log's payload is not text).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from civicloop.projections.store.base import StoreRejected

#: a table's columns as (name, ClickHouse type), in table order
Columns = Sequence[tuple[str, str]]


def arrow_type(ch_type: str) -> pa.DataType:
    nullable = ch_type.startswith("Nullable(")
    inner = ch_type.removeprefix("Nullable(").removesuffix(")") if nullable else ch_type
    if inner.startswith("DateTime"):
        return pa.timestamp("s", tz="UTC")
    if inner.startswith(("UInt", "Int")):
        return pa.int64()
    if inner.startswith("Float"):
        return pa.float64()
    if inner.startswith("LowCardinality(String") or inner == "String":
        return pa.binary()
    return pa.string()


def table(name: str, rows: Sequence[Mapping[str, Any]], columns: Columns) -> pa.Table:
    """``rows`` (dicts with the same keys) as an Arrow table of ``columns``' types; a value
    Arrow cannot convert is the store refusing the content (:class:`StoreRejected`)."""
    present = rows[0].keys() if rows else ()
    schema = pa.schema([(col, arrow_type(ch_type)) for col, ch_type in columns if col in present])
    try:
        return pa.Table.from_pylist(list(rows), schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
        raise StoreRejected("unconvertible", f"{name}: {exc}") from exc


def from_columns(name: str, values: Mapping[str, list[Any]], columns: Columns) -> pa.Table:
    """``values`` (column → one value per row) as an Arrow table of ``columns``' types."""
    types = dict(columns)
    try:
        arrays = [pa.array(vals, type=arrow_type(types[col])) for col, vals in values.items()]
        return pa.Table.from_arrays(arrays, names=list(values))
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
        raise StoreRejected("unconvertible", f"{name}: {exc!r}") from exc


def to_bytes(data: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, data.schema) as writer:
        writer.write_table(data)
    return bytes(sink.getvalue())


def from_bytes(raw: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(raw)).read_all()
