"""The embedded backend: chDB (ClickHouse in-process) on a local directory.

Two sessions on the directory: civicloop's own, which writes; and one for SQL written
elsewhere (``query_readonly``), made read-only for good when it opens
(``projections/store/readonly.py``), so a reader's statement can neither write nor leave output
behind for civicloop's next query. One lock serves both: one statement at a time in the
process, as before there were two sessions — so a reader never runs in the middle of a
multi-table ``RENAME`` (the rebuild's switch), where it would find a table missing.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
from chdb import ChdbError

from civicloop.projections.store import arrow, ranges, readonly
from civicloop.projections.store.base import Params, Row, bind, content_rejection
from civicloop.projections.store.single import SingleNode


class ChdbStore(SingleNode):
    """chDB sessions on ``path``; one process may hold a directory at a time."""

    def __init__(self, path: Path) -> None:
        from chdb import session

        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.url = f"chdb://{path}"
        self._session = session.Session(str(path))
        _configure(self._session)
        # A chDB session serves one thread at a time; the worker calls from executor threads.
        self._lock = threading.Lock()
        self._reader: Any = None  # the read-only session, opened on first use
        self._accepted: OrderedDict[str, str] = OrderedDict()  # text → its canonical statement
        self._types: dict[str, list[tuple[str, str]]] = {}

    def command(self, sql: str, params: Params | None = None) -> None:
        with self._lock:
            _run(self._session, bind(sql, params), "CSV")

    def query(self, sql: str, params: Params | None = None) -> list[Row]:
        with self._lock:
            text = _run(self._session, bind(sql, params), "JSONCompact")
        return _rows(text)

    def query_readonly(self, sql: str) -> list[Row]:
        readonly.check(sql)
        with self._lock:
            session = self._readonly_session()
            try:
                canonical = self._parsed(session, sql)
                text = session.query(canonical, "JSONCompact").bytes()
            except (ChdbError, UnicodeError) as exc:
                raise readonly.failure(exc) from None
        return _rows(text)

    def _parsed(self, session: Any, sql: str) -> str:
        """The one canonical statement ClickHouse's parser makes of ``sql``, once its AST passed
        ``readonly.check_parsed``. Both statements that decide it run once per text: a text
        accepted before is remembered (the same text parses the same way), a refused one never
        is. Readers repeat their statements (progress polls, a dashboard's figures): without
        this, each read was three statements under the lock the writer's inserts wait on."""
        canonical = self._accepted.get(sql)
        if canonical is not None:
            self._accepted.move_to_end(sql)
            return canonical
        # ClickHouse's parser, given the text as a string: one statement or an error.
        formatted = _rows(
            session.query(bind("SELECT formatQuery(%(sql)s)", {"sql": sql}), "JSONCompact").bytes()
        )
        canonical = str(formatted[0][0])
        ast = session.query(f"EXPLAIN AST {canonical}", "TSVRaw").bytes().decode()
        readonly.check_parsed(canonical, ast)
        self._accepted[sql] = canonical
        while len(self._accepted) > ACCEPTED_KEPT:
            self._accepted.popitem(last=False)
        return canonical

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
        if not rows:
            return 0
        return self.insert_arrow(table, arrow.table(table, rows, self._columns(table)))

    def insert_arrow(self, table: str, data: pa.Table) -> int:
        if not data.num_rows:
            return 0
        # The engine would clamp what does not fit (300 → 255 in a UInt8): refuse it instead.
        ranges.check_arrow(table, ranges.bounds(dict(self._columns(table))), data)
        names = ", ".join(f"`{name}`" for name in data.column_names)
        with self._lock:
            # chDB's Python() table function reads the Arrow table from this frame's locals.
            _run(self._session, f"INSERT INTO {table} ({names}) SELECT {names} FROM Python(data)", "CSV")
        return int(data.num_rows)

    def server_version(self) -> str:
        return str(self.query("SELECT version()")[0][0])

    def close(self) -> None:
        with self._lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
            self._session.close()

    def _readonly_session(self) -> Any:
        if self._reader is None:
            from chdb import session

            reader = session.Session(str(self.path))
            _configure(reader)
            # readonly = 1 cannot be unset within the session: nothing run on it can write.
            reader.query("SET readonly = 1")
            self._reader = reader
        return self._reader

    def _columns(self, table: str) -> list[tuple[str, str]]:
        if table not in self._types:
            database, _, name = table.rpartition(".")
            self._types[table] = [
                (str(col), str(typ))
                for col, typ in self.query(
                    "SELECT name, type FROM system.columns "
                    "WHERE database = %(db)s AND table = %(table)s ORDER BY position",
                    {"db": database, "table": name},
                )
            ]
        return self._types[table]


#: how many texts accepted by the read-only path are remembered (the least recently read go first)
ACCEPTED_KEPT = 512

#: chDB-only settings, for every session (a ClickHouse 18.16 server knows neither):
#: ``FINAL`` merges the versions of a row within its partition only — exact, as every version
#: of a case (task) is in the month of its report (dispatch), and it spares merging across
#: months; and a batch may touch any number of months (a replayed decade: the default stops
#: an insert at 100 partitions).
SESSION_SETTINGS = {"do_not_merge_across_partitions_select_final": 1, "max_partitions_per_insert_block": 0}


def _configure(session: Any) -> None:
    for name, value in SESSION_SETTINGS.items():
        session.query(f"SET {name} = {value}")


def _run(session: Any, sql: str, fmt: str) -> bytes:
    """Run one statement; an error that blames the data becomes :class:`StoreRejected`."""
    try:
        return bytes(session.query(sql, fmt).bytes())
    except ChdbError as exc:
        rejected = content_rejection(exc)
        if rejected is None:
            raise
        raise rejected from exc


def _rows(text: bytes) -> list[Row]:
    if not text:
        return []
    # JSON carries the column types, so values come back typed the way the server backend's
    # driver types them (Arrow output would turn DateTime into bare integers).
    payload = json.loads(text)
    converters = [_converter(col["type"]) for col in payload["meta"]]
    return [
        tuple(conv(value) for conv, value in zip(converters, row, strict=True)) for row in payload["data"]
    ]


def _converter(ch_type: str) -> Callable[[Any], Any]:
    inner = ch_type[9:-1] if ch_type.startswith("Nullable(") else ch_type
    if inner.startswith("DateTime"):
        convert: Callable[[Any], Any] = _datetime
    elif inner.startswith(("UInt", "Int")):
        convert = int
    elif inner.startswith("Float"):
        convert = float
    else:
        return _identity
    return lambda value: None if value is None else convert(value)


def _datetime(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def _identity(value: Any) -> Any:
    return value
