"""The server backend: a ClickHouse server over the native protocol (clickhouse-driver).

A clickhouse-driver ``Client`` is one connection and must never be used by two threads at
once: a query from one thread in the middle of another's INSERT breaks both (BrokenPipe,
PartiallyConsumedQueryError) and can leave the connection hanging. So each thread that uses
a ``ServerStore`` gets connections of its own, opened on first use: in a worker the
projector, the SLA watchdog and every reader of the SQL view (each on its own thread) never
share one. SQL written elsewhere (``query_readonly``) runs on a second connection of the
thread with the setting ``readonly = 1`` on every statement (docs/TRUST.md §4). ``close``
closes them all.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from clickhouse_driver import Client
from clickhouse_driver.errors import Error as DriverError

from civicloop.projections.store import readonly
from civicloop.projections.store.base import Params, Row, StoreRejected, bind, content_rejection
from civicloop.projections.store.single import SingleNode

#: seconds to connect, and for any one send or receive: a server that stops answering makes
#: a call fail (and the batch retry) instead of hanging its thread for good
CONNECT_TIMEOUT_S = 10
SEND_RECEIVE_TIMEOUT_S = 300
#: what the driver raises when a value does not fit its column, before anything is sent
_UNCONVERTIBLE = (ValueError, TypeError, OverflowError, struct.error)


class ServerStore(SingleNode):
    """A ClickHouse server; safe to share between threads (connections per thread).
    ``settings`` are ClickHouse settings sent with every query."""

    def __init__(
        self,
        host: str,
        port: int,
        user: str = "default",
        password: str = "",
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        self.url = f"clickhouse://{host}:{port}/"
        self._connect = dict(host=host, port=port, user=user, password=password)
        self._settings = dict(settings or {})
        self._local = threading.local()
        self._clients: list[Client] = []
        self._lock = threading.Lock()
        self._columns: dict[str, list[str]] = {}

    def _client(self, purpose: str = "own") -> Client:
        """This thread's connection for ``purpose``: ``own`` (civicloop's SQL) or ``reader``."""
        client: Client | None = getattr(self._local, purpose, None)
        if client is None:
            client = Client(
                **self._connect,
                connect_timeout=CONNECT_TIMEOUT_S,
                send_receive_timeout=SEND_RECEIVE_TIMEOUT_S,
                settings={"strings_as_bytes": False, **self._settings},
            )
            setattr(self._local, purpose, client)
            with self._lock:
                self._clients.append(client)
        return client

    def command(self, sql: str, params: Params | None = None) -> None:
        self._client().execute(bind(sql, params))

    def query(self, sql: str, params: Params | None = None) -> list[Row]:
        rows = self._client().execute(bind(sql, params))
        return [tuple(_utc(v) for v in row) for row in rows]

    def query_readonly(self, sql: str) -> list[Row]:
        readonly.check(sql)
        try:
            rows = self._client("reader").execute(sql, settings={"readonly": 1})
        except DriverError as exc:
            raise readonly.failure(exc) from None
        return [tuple(_utc(v) for v in row) for row in rows]

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
        if not rows:
            return 0
        names = [name for name in self._table_columns(table) if name in rows[0]]
        data = [tuple(_encode(row.get(name)) for name in names) for row in rows]
        quoted = ", ".join(f"`{name}`" for name in names)
        try:
            self._client().execute(f"INSERT INTO {table} ({quoted}) VALUES", data)
        except DriverError as exc:
            rejected = content_rejection(exc)
            if rejected is None:
                raise
            raise rejected from exc
        except _UNCONVERTIBLE as exc:
            raise StoreRejected("unconvertible", f"{table}: {exc!r}") from exc
        return len(rows)

    def insert_arrow(self, table: str, data: pa.Table) -> int:
        # The driver takes Python values: a fold process's Arrow rows, converted once here.
        return self.insert(table, data.to_pylist())

    def server_version(self) -> str:
        return str(self.query("SELECT version()")[0][0])

    @property
    def connections(self) -> int:
        """Connections opened so far (per thread that used this store, and purpose)."""
        with self._lock:
            return len(self._clients)

    def close(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.disconnect()
        self._local = threading.local()

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
