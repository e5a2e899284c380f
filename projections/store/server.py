"""The server backend: a ClickHouse server over the native protocol (clickhouse-driver).

A driver connection serves one thread at a time, so each connection has a lock: civicloop's
own, and a second one, opened on first use, for SQL written elsewhere (``query_readonly``),
which sends every statement with the setting ``readonly = 1`` (docs/TRUST.md §4).
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from clickhouse_driver import Client
from clickhouse_driver.errors import Error as DriverError

from civicloop.projections.store import readonly
from civicloop.projections.store.base import Params, Row, StoreRejected, bind, content_rejection

#: what the driver raises when a value does not fit its column, before anything is sent
_UNCONVERTIBLE = (ValueError, TypeError, OverflowError, struct.error)


class ServerStore:
    """Connections to one ClickHouse server."""

    def __init__(self, host: str, port: int, user: str = "default", password: str = "") -> None:
        self.url = f"clickhouse://{host}:{port}/"
        self._connect = {"host": host, "port": port, "user": user, "password": password}
        self._client = self._new_client()
        self._lock = threading.Lock()
        self._reader: Client | None = None
        self._reader_lock = threading.Lock()
        self._columns: dict[str, list[str]] = {}

    def command(self, sql: str, params: Params | None = None) -> None:
        with self._lock:
            self._client.execute(bind(sql, params))

    def query(self, sql: str, params: Params | None = None) -> list[Row]:
        with self._lock:
            rows = self._client.execute(bind(sql, params))
        return [tuple(_utc(v) for v in row) for row in rows]

    def query_readonly(self, sql: str) -> list[Row]:
        readonly.refuse_outfile(sql)
        readonly.refuse_unsafe_calls(sql)
        with self._reader_lock:
            if self._reader is None:
                self._reader = self._new_client()
            try:
                rows = self._reader.execute(sql, settings={"readonly": 1})
            except DriverError as exc:
                raise readonly.failure(exc) from None
        return [tuple(_utc(v) for v in row) for row in rows]

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
        if not rows:
            return 0
        names = [name for name in self._table_columns(table) if name in rows[0]]
        data = [tuple(_encode(row.get(name)) for name in names) for row in rows]
        quoted = ", ".join(f"`{name}`" for name in names)
        with self._lock:
            try:
                self._client.execute(f"INSERT INTO {table} ({quoted}) VALUES", data)
            except DriverError as exc:
                rejected = content_rejection(exc)
                if rejected is None:
                    raise
                raise rejected from exc
            except _UNCONVERTIBLE as exc:
                raise StoreRejected("unconvertible", f"{table}: {exc!r}") from exc
        return len(rows)

    def server_version(self) -> str:
        return str(self.query("SELECT version()")[0][0])

    def close(self) -> None:
        with self._reader_lock:
            if self._reader is not None:
                self._reader.disconnect()
        with self._lock:
            self._client.disconnect()

    def _new_client(self) -> Client:
        return Client(**self._connect, settings={"strings_as_bytes": False})  # type: ignore[arg-type]

    def _table_columns(self, table: str) -> list[str]:
        if table not in self._columns:
            database, _, name = table.rpartition(".")
            self._columns[table] = [
                str(col)
                for (col,) in self.query(
                    "SELECT name FROM system.columns WHERE database = %(db)s AND table = %(table)s",
                    {"db": database, "table": name},
                )
            ]
        return self._columns[table]


def _encode(value: Any) -> Any:
    # The driver sends naive datetimes as given; civicloop columns are UTC.
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _utc(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
