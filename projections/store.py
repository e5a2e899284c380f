"""One narrow interface to ClickHouse, two backends chosen by URL.

- ``chdb://PATH`` — the ClickHouse engine in-process (chDB) on a local directory: the default,
  no server to run. chDB allows one process per directory, so the worker owns it while it runs.
- ``clickhouse://[user[:password]@]host:port/`` — a ClickHouse server over the native protocol.

Both speak the SQL civicloop ships, which stays within what ClickHouse 18.16 (Debian's package)
understands (DESIGN §2). Results come back as tuples with timezone-aware UTC datetimes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlparse

Row = tuple[Any, ...]


class Store(Protocol):
    """What projections, metrics and tools need from ClickHouse."""

    url: str

    def command(self, sql: str) -> None:
        """Run a statement that returns nothing (DDL, INSERT … SELECT, OPTIMIZE)."""

    def query(self, sql: str) -> list[Row]:
        """Run a SELECT and return its rows."""

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Insert dict rows (keys = column names) into ``db.table`` in one batch."""

    def server_version(self) -> str:
        """The ClickHouse version string of the engine behind this store."""

    def close(self) -> None:
        """Release the engine (chDB's directory lock, the server connection)."""


class StoreURLError(ValueError):
    """A CIVICLOOP_CLICKHOUSE_URL that names no backend civicloop knows."""


def open_store(url: str, home: Path | None = None) -> Store:
    """Open the backend that ``url`` names; relative chDB paths are resolved under ``home``."""
    parsed = urlparse(url)
    if parsed.scheme == "chdb":
        from civicloop.projections.chdb_store import ChdbStore

        raw = unquote(parsed.netloc + parsed.path)
        path = Path(raw)
        if not path.is_absolute():
            path = (home or Path.cwd()) / path
        return ChdbStore(path)
    if parsed.scheme == "clickhouse":
        from civicloop.projections.server_store import ServerStore

        return ServerStore(
            host=parsed.hostname or "localhost",
            port=parsed.port or 9000,
            user=unquote(parsed.username or "default"),
            password=unquote(parsed.password or ""),
        )
    raise StoreURLError(
        f"CIVICLOOP_CLICKHOUSE_URL={url!r}: use chdb:///absolute/dir, chdb://relative/dir "
        "or clickhouse://host:9000/"
    )
