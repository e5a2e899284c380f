"""A deployment sees no schema change from the tables' declarations: on chDB and on the
ClickHouse server, the tables laid out from the declarations are, as the engine itself shows
them, the tables the released statements (tests/data/ddl_before) made."""

from __future__ import annotations

from pathlib import Path

from civicloop.projections.store.base import Store
from civicloop.projections.tables import schema

pytestmark = __import__("pytest").mark.integration

RELEASED = Path(__file__).parents[1] / "data" / "ddl_before"


def _shown(store: Store, database: str) -> dict[str, str]:
    """table → SHOW CREATE TABLE, the database's name taken out."""
    return {
        table: str(store.query(f"SHOW CREATE TABLE {database}.{table}")[0][0]).replace(f"{database}.", "DB.")
        for table in schema.NAMES
    }


def test_the_declared_tables_are_the_released_tables_as_the_engine_shows_them(
    store: Store, database: str
) -> None:
    # given a database made by the released statements
    released = f"{database}_released"
    store.command(f"CREATE DATABASE {released}")
    for table in schema.NAMES:
        store.command((RELEASED / f"{table}.sql").read_text().format(db=released))

    # when another is laid out from the declarations
    store.lay_out(database)

    # then the engine describes every table the same way: columns, types, engine, keys, settings
    before, after = _shown(store, released), _shown(store, database)
    assert after == before
    assert "PARTITION BY toYYYYMM(reported_at)" in after[schema.CASE_LIFECYCLE]
    store.drop_database(released)
    store.drop_database(database)
