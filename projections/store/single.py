"""What a single node does as a backend — chDB or one ClickHouse server: its tables in one
database, a rebuild switched in by one ``RENAME``, and reads that are always up to date.

``ChdbStore`` and ``ServerStore`` take these from :class:`SingleNode`; the cluster does each its
own way (``store/cluster.py``). Callers never ask which one they hold (docs/DESIGN.md §6).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from civicloop import log
from civicloop.projections.store.base import Params, Row
from civicloop.projections.tables import schema

_log = log.get(__name__)


class SingleNode(ABC):
    """The layout duties of a :class:`Store` on one node, from its plain statements."""

    url: str
    sharded = False

    @abstractmethod
    def command(self, sql: str, params: Params | None = None) -> None: ...

    @abstractmethod
    def query(self, sql: str, params: Params | None = None) -> list[Row]: ...

    @abstractmethod
    def query_readonly(self, sql: str) -> list[Row]: ...

    @abstractmethod
    def close(self) -> None: ...

    def lay_out(self, database: str) -> None:
        """Create the database and every table when missing, and upgrade old column types
        (safe to run at every start)."""
        self.command(f"CREATE DATABASE IF NOT EXISTS {database}")
        found = self.query("SELECT name FROM system.tables WHERE database = %(db)s", {"db": database})
        for table in schema.names({str(name) for (name,) in found}):
            self.command(schema.ddl(table).format(db=database))
        for statement in schema.upgrades(database, schema.column_types(self, database)):
            self.command(statement)

    def prepare_rebuild(self, target: str) -> None:
        """Create the rebuild's database and tables (kept if a rebuild was interrupted)."""
        self.lay_out(target)

    def switch_rebuild(self, live: str, new: str, keep_old: bool = False) -> str:
        """Swap every table of ``new`` into ``live`` in one RENAME, which ClickHouse applies as
        a whole; return where the old ones went (dropped unless ``keep_old``)."""
        old = f"{new}_old"
        self.command(f"CREATE DATABASE IF NOT EXISTS {old}")
        present = {
            name
            for (name,) in self.query("SELECT name FROM system.tables WHERE database = %(db)s", {"db": live})
        }
        pairs = [f"{live}.{t} TO {old}.{t}" for t in schema.NAMES if t in present]
        pairs += [f"{new}.{t} TO {live}.{t}" for t in schema.NAMES]
        self.command(f"CREATE DATABASE IF NOT EXISTS {live}")
        self.command("RENAME TABLE " + ", ".join(pairs))
        if not keep_old:
            for t in schema.NAMES:
                if t in present:
                    self.command(f"DROP TABLE IF EXISTS {old}.{t}")
            self.command(f"DROP DATABASE IF EXISTS {old}")
        self.command(f"DROP DATABASE IF EXISTS {new}")
        _log.info("rebuild_switched", live=live, kept_old=old if keep_old else None)
        return old

    def query_caught_up(
        self, database: str, table: str, select: str, params: Params | None = None
    ) -> list[Row]:
        """``select`` (naming the table as ``{table}``) on ``database``.``table``: one node
        holds every write it acknowledged."""
        return self.query(select.replace("{table}", f"{database}.{table}"), params)

    def drop_database(self, database: str) -> None:
        """Drop ``database`` and its tables."""
        self.command(f"DROP DATABASE IF EXISTS {database}")
