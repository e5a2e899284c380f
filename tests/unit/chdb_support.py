"""Test support: the project's own chDB store in a temp dir, plus creating a database.

chDB allows one session per process at a time, so each test module opens one (module-scoped
fixture) and every test uses its own database name.
"""

from __future__ import annotations

from pathlib import Path

from civicloop.projections import tables
from civicloop.projections.chdb_store import ChdbStore


class Chdb(ChdbStore):
    """:class:`ChdbStore` on ``path`` — the same insert and query path as the worker's."""

    def __init__(self, path: str) -> None:
        super().__init__(Path(path))

    def create(self, db: str) -> None:
        tables.ensure(self, db)
