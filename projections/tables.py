"""Creating civicloop's database and tables, on either backend."""

from __future__ import annotations

from civicloop.projections import ddl, dead_letters, event_log, progress, state_store
from civicloop.projections.store import Store

# Every projection module that owns a table lists its DDL here, in creation order.
NAMES: tuple[str, ...] = (event_log.TABLE, dead_letters.TABLE, ddl.CASE_LIFECYCLE, ddl.CASE_TASKS,
                          state_store.TABLE, progress.TABLE)
DDL: tuple[str, ...] = (event_log.DDL, dead_letters.DDL, *ddl.DDL, state_store.DDL, progress.DDL)


def ensure(store: Store, database: str) -> None:
    """Create the database and every table when missing, and bring the column types of
    tables created by an older release up to date (safe to run at every start)."""
    store.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    for statement in DDL:
        store.command(statement.format(db=database))
    for statement in ddl.upgrades(database, column_types(store, database)):
        store.command(statement)


def column_types(store: Store, database: str) -> dict[tuple[str, str], str]:
    """(table, column) → type of every column in ``database``."""
    rows = store.query(f"SELECT table, name, type FROM system.columns "
                       f"WHERE database = '{database}'")
    return {(str(table), str(name)): str(typ) for table, name, typ in rows}
