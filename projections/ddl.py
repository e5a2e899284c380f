"""DDL of the lifecycle projections, shipped as ``sql/*.sql`` package data.

Each statement has a ``{db}`` placeholder for the database; add ``DDL`` to
``tables.DDL`` so ``tables.ensure`` creates them with the rest.

``CREATE TABLE IF NOT EXISTS`` leaves an existing table as it is, so a column whose type was
widened later is listed in ``NULLABLE_SINCE``: ``tables.ensure`` converts it where it is still
the old type (``ALTER … MODIFY COLUMN``, which ClickHouse 18.16 runs by rewriting the column).
"""

from __future__ import annotations

from importlib import resources


def _read(name: str) -> str:
    return resources.files("civicloop.projections").joinpath("sql", name).read_text()


CASE_LIFECYCLE = "case_lifecycle"
CASE_TASKS = "case_tasks"
CASE_LIFECYCLE_DDL = _read("case_lifecycle.sql")
CASE_TASKS_DDL = _read("case_tasks.sql")
DDL: tuple[str, ...] = (CASE_LIFECYCLE_DDL, CASE_TASKS_DDL)

#: (table, column) → its type now, for columns made Nullable after the table was first
#: released: task deadlines may be NULL since TaskDispatched v2 (no deadline set).
NULLABLE_SINCE: dict[tuple[str, str], str] = {
    (CASE_TASKS, "accept_by"): "Nullable(DateTime('UTC'))",
    (CASE_TASKS, "dispose_by"): "Nullable(DateTime('UTC'))",
    (CASE_TASKS, "original_dispose_by"): "Nullable(DateTime('UTC'))",
}


def statements(db: str) -> list[str]:
    """The CREATE TABLE statements for database ``db`` (create the database first)."""
    return [statement.format(db=db) for statement in DDL]


def upgrades(db: str, types: dict[tuple[str, str], str]) -> list[str]:
    """``ALTER`` statements for the ``NULLABLE_SINCE`` columns whose current type (``types``:
    (table, column) → type, as ``system.columns`` reports it) is not the Nullable one yet."""
    return [f"ALTER TABLE {db}.{table} MODIFY COLUMN {column} {wanted}"
            for (table, column), wanted in NULLABLE_SINCE.items()
            if types.get((table, column), wanted).replace(" ", "") != wanted.replace(" ", "")]
