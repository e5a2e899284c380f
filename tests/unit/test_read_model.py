"""The projections are read in one place: outside ``projections/``, no code writes SQL that
reads a projection table or names one (the read model's functions do, docs/DESIGN.md §2).
``tools/bench`` is left out: a benchmark times SQL of its own making."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from civicloop.projections.read_model import cases, requests, worklist
from civicloop.projections.tables import schema

REPO = Path(__file__).resolve().parents[2]
SCHEMA = "civicloop.projections.tables.schema"
#: the layers above the projections, and what of them may hold SQL of its own
READERS = ("api", "streams", "civicloop", "tools")
EXEMPT = ("tools/bench/",)
#: a table of the projections after FROM / JOIN / IN (…), however the name is written
TABLE = re.compile(r"\b(FROM|JOIN)\s+\S*\b(" + "|".join(schema.NAMES) + r")\b", re.IGNORECASE)


def _modules(folder: str) -> list[Path]:
    return [
        path
        for path in sorted((REPO / folder).rglob("*.py"))
        if not str(path.relative_to(REPO)).startswith(EXEMPT)
    ]


def _texts(tree: ast.AST) -> list[str]:
    """Every string of the module, an f-string's literal parts joined as they are written."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            found.append("".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append(node.value)
    return found


def _imports_schema(node: ast.ImportFrom) -> bool:
    """``from …tables.schema import X`` or ``from …tables import schema``."""
    names = {f"{node.module}.{alias.name}" for alias in node.names}
    return node.module == SCHEMA or SCHEMA in names


@pytest.mark.parametrize("folder", READERS)
def test_no_sql_reads_a_projection_table_outside_the_read_model(folder: str) -> None:
    offenders = []
    for path in _modules(folder):
        tree = ast.parse(path.read_text())
        texts = _texts(tree)
        # adjacent literals joined: a statement split over lines reads as one
        joined = " ".join(texts)
        for match in TABLE.finditer(joined):
            offenders.append(f"{path.relative_to(REPO)}: {match.group(0)!r}")
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and _imports_schema(node):
                offenders.append(f"{path.relative_to(REPO)}: imports the table names (tables.schema)")

    assert offenders == []


def test_the_check_sees_sql_written_the_ways_the_code_wrote_it() -> None:
    # given statements as the callers wrote them before the read model (a table named by a
    # constant, ``{CASE_TASKS}``, is caught by the constant's import instead), then each is caught
    written = [
        'where = f"FROM {config.database}.case_lifecycle FINAL WHERE case_id LIKE {x}"',
        '("SELECT hex(payload) " f"FROM {cfg.database}.event_log FINAL WHERE case_id = %(case)s")',
        '"SELECT case_id FROM db.signals FINAL"',
    ]

    assert all(TABLE.search(" ".join(_texts(ast.parse(code)))) for code in written)


def test_every_column_list_of_the_read_model_names_declared_columns() -> None:
    # given the column lists the read model selects by name, then each names its table's columns
    lists = {
        "cases.LIFECYCLE": (cases.LIFECYCLE, schema.CASE_LIFECYCLE),
        "cases.TASKS": (cases.TASKS, schema.CASE_TASKS),
        "cases.CHOICES": (tuple(cases.CHOICES.values()), schema.CASE_LIFECYCLE),
        "cases.SIGNAL_COLUMNS": (cases.SIGNAL_COLUMNS, schema.SIGNALS),
        "requests.COLUMNS": (requests.COLUMNS, schema.CASE_LIFECYCLE),
        "worklist.FILTERS": (tuple(worklist.FILTERS.values()), schema.CASE_LIFECYCLE),
        "worklist deadlines": (tuple(q.deadline for q in worklist.QUEUES.values()), ""),
    }

    for name, (columns, table) in lists.items():
        declared = (
            set(schema.TABLES[table].names)
            if table
            else set(schema.TABLES[schema.CASE_LIFECYCLE].names) | set(schema.TABLES[schema.CASE_TASKS].names)
        )
        assert set(columns) <= declared, (name, set(columns) - declared)
