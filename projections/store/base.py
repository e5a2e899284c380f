"""One narrow interface to ClickHouse, three backends chosen by URL (``projections/backend.py``).

- ``chdb://PATH`` — the ClickHouse engine in-process (chDB) on a local directory: the default,
  no server to run. chDB allows one process per directory, so the worker owns it while it runs.
- ``clickhouse://[user[:password]@]host:port/`` — a ClickHouse server over the native protocol.
- the same URL with a cluster name — a sharded, replicated cluster entered through that server
  (``cluster.py``; docs/CLUSTER.md).

Both speak the SQL civicloop ships, which stays within what ClickHouse 18.16 (Debian's package)
understands (docs/DESIGN.md §7). Results come back as tuples with timezone-aware UTC datetimes.

Values never go into SQL text by hand: ``query`` and ``command`` take ``params`` and the SQL
names them as ``%(name)s``; :func:`bind` renders each as a ClickHouse literal (strings escaped,
datetimes as ``toDateTime('…', 'UTC')``, tuples as ``(a, b)`` for ``IN``). 18.16 has no
server-side query parameters, so binding happens here, the same way for both backends.

SQL written by someone else (an analyst, an API caller) goes through ``query_readonly``
instead, which runs it under ClickHouse's own read-only enforcement (``readonly.py``).

A write the store refuses because of what it was given (a value out of the column's range,
text it cannot parse) raises :class:`StoreRejected`: retrying it cannot help, so the projector
finds the offending message and dead-letters it. Anything else a store raises (connection
refused, timeout, server down) is a failure of the store itself, retried (docs/TRUST.md §2).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pyarrow as pa

Row = tuple[Any, ...]
Params = Mapping[str, Any]
#: a read-only query function: what metrics, reports and the watchdog take (``Reader.query``)
Query = Callable[..., list[Row]]


class StoreRejected(ValueError):
    """The store refused a write for its content; ``code`` is short and stable (a reason to
    count dead letters by), the message says which value and why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


#: ClickHouse error codes that blame the data, not the store: parse failures, type mismatches,
#: values out of a type's range, NULL into a plain column (ErrorCodes.cpp)
CONTENT_ERRORS = frozenset({6, 25, 26, 27, 38, 41, 53, 69, 70, 72, 117, 131, 321, 349, 407})
_CODE = re.compile(r"Code: (\d+)")


def error_code(exc: BaseException) -> int | None:
    """ClickHouse's error code in an exception of either backend, if it carries one."""
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return code
    found = _CODE.search(str(exc))
    return int(found.group(1)) if found else None


def engine_message(exc: BaseException) -> str:
    """ClickHouse's message on one line, without the stack trace and version noise."""
    text = str(exc).split("Stack trace:")[0]
    text = re.sub(r"\s*\(version [^)]*\)", "", text)
    text = re.sub(r"(Code: \d+\. )?DB::Exception: (default: )?", "", text)
    text = re.sub(r"(\. \(\w+\))+$", "", text.strip())  # chDB repeats the error name
    return " ".join(text.split()).rstrip(". ")


def content_rejection(exc: BaseException) -> StoreRejected | None:
    """The :class:`StoreRejected` for an engine error that blames the data, else None (the
    store itself failed: the caller's retry is right)."""
    code = error_code(exc)
    if code in CONTENT_ERRORS:
        return StoreRejected(f"code_{code}", engine_message(exc)[:500])
    return None


class Reader(Protocol):
    """Read-only access: what analysts' commands, the API and the watchdog's look-ups need."""

    url: str

    def query(self, sql: str, params: Params | None = None) -> list[Row]:
        """Run a SELECT civicloop wrote and return its rows."""

    def query_readonly(self, sql: str) -> list[Row]:
        """Run one statement written outside civicloop under ClickHouse's read-only
        enforcement; raise ``readonly.Refused`` (or ``QueryFailed``) saying why not."""

    def close(self) -> None:
        """Release the connection."""


class Store(Reader, Protocol):
    """Read and write access: what the projector, the replay and table set-up need."""

    #: the tables are Distributed over shards (a cluster): a statement on the entry node's own
    #: tables, such as OPTIMIZE, does not reach the data
    sharded: bool

    def command(self, sql: str, params: Params | None = None) -> None:
        """Run a statement that returns nothing (DDL, INSERT … SELECT, OPTIMIZE)."""

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Insert dict rows (keys = column names) into ``db.table`` in one batch."""

    def insert_arrow(self, table: str, data: pa.Table) -> int:
        """Insert an Arrow table (columns named as the table's, ``store/arrow.py``'s types)."""

    def server_version(self) -> str:
        """The ClickHouse version string of the engine behind this store."""

    # -- what differs by backend: one node (``single.py``) or a cluster (``cluster.py``) ----

    def lay_out(self, database: str) -> None:
        """Create ``database`` with every projection table when missing (safe at every start)."""

    def prepare_rebuild(self, target: str) -> None:
        """Create a rebuild's database and tables (kept when a rebuild was interrupted)."""

    def switch_rebuild(self, live: str, new: str, keep_old: bool = False) -> str:
        """Send readers of ``live`` to the tables of ``new`` all at once; return where the old
        tables went (dropped unless ``keep_old``)."""

    def query_caught_up(
        self, database: str, table: str, select: str, params: Params | None = None
    ) -> list[Row]:
        """``select`` (naming the table as ``{table}``) over ``database``.``table`` as it is
        after every write acknowledged so far (the fold reads case states this way)."""

    def drop_database(self, database: str) -> None:
        """Drop ``database`` with its tables."""


def bind(sql: str, params: Params | None) -> str:
    """``sql`` with every ``%(name)s`` replaced by the literal of ``params[name]``."""
    if params is None:
        return sql
    return sql % {name: literal(value) for name, value in params.items()}


_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0"}


def literal(value: Any) -> str:
    """A ClickHouse literal for ``value`` (str, int, float, bool, None, datetime, tuple/list)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return "'" + "".join(_ESCAPES.get(c, c) for c in value) + "'"
    if isinstance(value, datetime):
        text = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        return f"toDateTime('{text}', 'UTC')"
    if isinstance(value, tuple | list | set | frozenset):
        items = sorted(value) if isinstance(value, set | frozenset) else value
        return "(" + ", ".join(literal(v) for v in items) + ")" if items else "(NULL)"
    raise TypeError(f"no ClickHouse literal for {type(value).__name__}")
