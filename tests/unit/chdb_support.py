"""Test support: a chDB session in a temp dir, dict rows rendered as SQL VALUES, JSON results.

chDB allows one session per process at a time, so each test module opens one (module-scoped
fixture) and every test uses its own database name.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from chdb import session

from civicloop.projections import ddl


class Chdb:
    def __init__(self, path: str) -> None:
        self.session = session.Session(path)

    def command(self, sql: str) -> None:
        self.session.query(sql)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        raw = self.session.query(sql, "JSONCompact").bytes()
        return [tuple(row) for row in json.loads(raw)["data"]] if raw.strip() else []

    def insert(self, table: str, rows: Iterable[Mapping[str, Any]]) -> None:
        rows = list(rows)
        if rows:
            cols = list(rows[0])
            values = ",".join("(" + ",".join(literal(r[c]) for c in cols) + ")" for r in rows)
            self.command(f"INSERT INTO {table} ({','.join(cols)}) VALUES {values}")

    def create(self, db: str) -> None:
        self.command(f"CREATE DATABASE IF NOT EXISTS {db}")
        for statement in ddl.statements(db):
            self.command(statement)

    def close(self) -> None:
        self.session.close()


def literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, datetime):
        return "'" + value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") + "'"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"
