"""Test support: the project's own chDB store in a temp dir, one fresh database per test.

chDB allows one session per process at a time, so each test module opens one (the
module-scoped ``chdb`` fixture of ``conftest.py``) and every test asks it for a new database.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pyarrow as pa

from civicloop.projections.store.chdb import ChdbStore

_numbers = itertools.count()


class Chdb(ChdbStore):
    """:class:`ChdbStore` on ``path`` — the same insert and query path as the worker's — that
    remembers which tables it inserted rows into, in order."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(Path(path))
        self.inserted: list[str] = []

    def insert_arrow(self, table: str, data: pa.Table) -> int:
        # every insert of the store ends here, dict rows included (made columnar first)
        if data.num_rows:
            self.inserted.append(table.rsplit(".", 1)[-1])
        return super().insert_arrow(table, data)

    def create(self, db: str) -> None:
        self.lay_out(db)

    def new_database(self, prefix: str) -> str:
        """A database of that prefix no test used before, with every civicloop table."""
        db = f"{prefix}_{next(_numbers)}"
        self.create(db)
        self.inserted.clear()
        return db
