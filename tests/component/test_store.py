"""The store interface, one suite run against chDB and the real ClickHouse server."""

from __future__ import annotations

from datetime import UTC, datetime

from civicloop.projections.store.base import Store
from civicloop.projections.tables import event_log, schema
from civicloop.schemas.codec import encode
from civicloop.tools.demo import reports

pytestmark = __import__("pytest").mark.integration


def test_values_round_trip_with_utc_datetimes_nulls_and_raw_bytes(store: Store, database: str) -> None:
    store.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    store.command(
        f"CREATE TABLE {database}.t (id String, at DateTime('UTC'), gone Nullable(DateTime('UTC')), "
        "n UInt64, x Float64, raw String) ENGINE = MergeTree ORDER BY id"
    )
    at = datetime(2024, 3, 31, 1, 30, 15, tzinfo=UTC)
    store.insert(
        f"{database}.t",
        [
            {"id": "a", "at": at, "gone": None, "n": 2**40, "x": 0.25, "raw": b"\xc3\x01\x00\xff"},
            {"id": "b", "at": at, "gone": at, "n": 0, "x": -1.5, "raw": b""},
        ],
    )

    rows = store.query(f"SELECT id, at, gone, n, x, hex(raw) FROM {database}.t ORDER BY id")

    assert rows == [("a", at, None, 2**40, 0.25, "C30100FF"), ("b", at, at, 0, -1.5, "")]
    assert store.server_version()


def test_the_same_event_written_twice_is_one_row(store: Store, database: str) -> None:
    store.lay_out(database)
    event = next(reports("dup", 1))
    row = event_log.row(event, "topic", 0, 7, encode(event))
    table = f"{database}.{schema.EVENT_LOG}"

    store.insert(table, [row])
    store.insert(table, [dict(row, offset=8)])  # redelivered at another offset

    assert store.query(f"SELECT count() FROM {table} FINAL") == [(1,)]
    store.command(f"OPTIMIZE TABLE {table} FINAL")
    assert store.query(f"SELECT count(), any(event_id) FROM {table}") == [(1, event.event_id)]


def test_ensure_is_idempotent(store: Store, database: str) -> None:
    store.lay_out(database)
    store.lay_out(database)

    names = {name for (name,) in store.query(f"SELECT name FROM system.tables WHERE database = '{database}'")}

    assert {"event_log", "dead_letters"} <= names
