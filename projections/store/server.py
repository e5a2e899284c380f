"""The server backend: a ClickHouse server over the native protocol (clickhouse-driver)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from clickhouse_driver import Client

from civicloop.projections.store.base import Params, Row, bind


class ServerStore:
    """A connection to one ClickHouse server; safe for one thread at a time. ``settings`` are
    ClickHouse settings sent with every query."""

    def __init__(
        self,
        host: str,
        port: int,
        user: str = "default",
        password: str = "",
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        self.url = f"clickhouse://{host}:{port}/"
        self._client = Client(
            host=host,
            port=port,
            user=user,
            password=password,
            settings={"strings_as_bytes": False, **(settings or {})},
        )
        self._columns: dict[str, list[str]] = {}

    def command(self, sql: str, params: Params | None = None) -> None:
        self._client.execute(bind(sql, params))

    def query(self, sql: str, params: Params | None = None) -> list[Row]:
        rows = self._client.execute(bind(sql, params))
        return [tuple(_utc(v) for v in row) for row in rows]

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
        if not rows:
            return 0
        names = [name for name in self._table_columns(table) if name in rows[0]]
        data = [tuple(_encode(row.get(name)) for name in names) for row in rows]
        quoted = ", ".join(f"`{name}`" for name in names)
        self._client.execute(f"INSERT INTO {table} ({quoted}) VALUES", data)
        return len(rows)

    def server_version(self) -> str:
        return str(self.query("SELECT version()")[0][0])

    def close(self) -> None:
        self._client.disconnect()

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
