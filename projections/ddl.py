"""DDL of the lifecycle projections, shipped as ``sql/*.sql`` package data.

Each statement has a ``{db}`` placeholder for the database; add ``DDL`` to
``tables.DDL`` so ``tables.ensure`` creates them with the rest.
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


def statements(db: str) -> list[str]:
    """The CREATE TABLE statements for database ``db`` (create the database first)."""
    return [statement.format(db=db) for statement in DDL]
