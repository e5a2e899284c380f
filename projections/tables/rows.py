"""Rows for ``case_lifecycle`` and ``case_tasks`` from a folded case, column by column as
``lifecycle.py`` declares them (their names, order and fills are written there once)."""

from __future__ import annotations

from typing import Any

from civicloop.projections.fold.calendar import Calendar
from civicloop.projections.fold.casestate import CaseState
from civicloop.projections.fold.policy import default_policy
from civicloop.projections.tables.lifecycle import LIFECYCLE, TASKS, CaseFill, TaskFill

#: (column, fill) in table order: what the builders below run, once per column
CASE_FILLS: tuple[tuple[str, CaseFill], ...] = tuple((c.name, c.fill) for c in LIFECYCLE.columns if c.fill)
TASK_FILLS: tuple[tuple[str, TaskFill], ...] = tuple((c.name, c.fill) for c in TASKS.columns if c.fill)


def case_row(case: CaseState, calendar: Calendar | None = None) -> dict[str, Any]:
    """The ``case_lifecycle`` row of ``case``."""
    cal = calendar or default_policy().calendar
    return {name: fill(case, cal) for name, fill in CASE_FILLS}


def task_rows(
    case: CaseState, since_version: int = 0, calendar: Calendar | None = None
) -> list[dict[str, Any]]:
    """One ``case_tasks`` row per task changed after ``since_version`` (0: every task)."""
    cal = calendar or default_policy().calendar
    return [
        {name: fill(case, task, cal) for name, fill in TASK_FILLS}
        for task in case.tasks.values()
        if task.version > since_version
    ]
