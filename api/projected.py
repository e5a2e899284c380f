"""Reading the projections from request handlers (the API never writes to ClickHouse).

With a ClickHouse server each handler thread keeps its own connection. With chDB the
worker holds the directory (chDB allows one process per directory), so the API always reads
through the worker's read-only SQL view — it never opens the directory itself, which would
lock the worker out the next time it starts.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from civicloop import log
from civicloop.api.errors import unavailable
from civicloop.config import Config
from civicloop.projections import backend
from civicloop.projections.store.base import Params, Reader, Row

_log = log.get(__name__)
#: how ClickHouse says the database or a table does not exist yet (nothing projected so far)
_NOT_YET = ("UNKNOWN_DATABASE", "Code: 81.", "UNKNOWN_TABLE", "Code: 60.", "doesn't exist")


class NothingProjected(LookupError):
    """The database or table does not exist yet: no worker has projected anything here."""


class Projections:
    """Read-only queries for the handlers; blocking, so call from a worker thread."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.database = config.database
        self._local = threading.local()
        # chDB: always through the worker, even while it is down (a 503 then), never the directory
        self._backend = backend.from_config(config, chdb="through")

    def query(self, sql: str, params: Params | None = None) -> list[Row]:
        """Rows with UTC datetimes; 503 when the projections cannot be reached."""
        try:
            rows = self._reader().query(sql, params)
        except Exception as exc:
            text = str(exc)
            if any(marker in text for marker in _NOT_YET):
                raise NothingProjected(text.splitlines()[0]) from None
            self._drop_reader()  # reconnect on the next query
            _log.warning("projections_unreachable", error=text.splitlines()[0] if text else repr(exc))
            raise unavailable(
                "the projections cannot be read right now (is the worker running?); try again shortly"
            ) from None
        return [tuple(_utc(v) for v in row) for row in rows]

    def _drop_reader(self) -> None:
        reader, self._local.reader = getattr(self._local, "reader", None), None
        if reader is not None:
            try:
                reader.close()
            except Exception:
                pass

    def table(self, name: str) -> str:
        return f"{self.database}.{name}"

    def _reader(self) -> Reader:
        reader: Reader | None = getattr(self._local, "reader", None)
        if reader is None:
            reader = self._open()
            self._local.reader = reader
        return reader

    def _open(self) -> Reader:
        return self._backend.open_reader()


def _utc(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
