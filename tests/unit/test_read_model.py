"""The projections are read in one place: outside ``projections/``, no code writes SQL that
reads a projection table or names one, and what the layers above call to read one is in the
read model (or the metrics): no other module of ``projections/`` that reads a projection table
is imported from above, so a typed read cannot be written outside it either (docs/DESIGN.md §2).
``tools/bench`` is left out: a benchmark times SQL of its own making."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from civicloop.projections.read_model import cases, requests, signals, worklist
from civicloop.projections.tables import schema

REPO = Path(__file__).resolve().parents[2]
SCHEMA = "civicloop.projections.tables.schema"
#: the layers above the projections, and what of them may hold SQL of its own
READERS = ("api", "streams", "civicloop", "tools")
EXEMPT = ("tools/bench/",)
#: a table of the projections after FROM / JOIN / IN (…), however the name is written
TABLE = re.compile(r"\b(FROM|JOIN)\s+\S*\b(" + "|".join(schema.NAMES) + r")\b", re.IGNORECASE)
#: where the reads the layers above call live
READ_MODEL = ("civicloop.projections.read_model", "civicloop.projections.metrics")
#: the other modules of projections/ that read a projection table and may be imported from
#: above: the signals sweep, which the worker runs (streams/signals.py; its reads are the
#: detectors' input, not a view of the projections for a caller)
SWEEP = ("civicloop.projections.signals.evaluate", "civicloop.projections.signals.arrival")
#: the table names as the code writes them: ``{CASE_LIFECYCLE}``, ``{schema.SIGNALS}``
TABLE_CONSTANTS = {name: value for name, value in vars(schema).items() if value in schema.NAMES}


def _modules(folder: str) -> list[Path]:
    return [
        path
        for path in sorted((REPO / folder).rglob("*.py"))
        if not str(path.relative_to(REPO)).startswith(EXEMPT)
    ]


def _texts(tree: ast.AST) -> list[str]:
    """Every string of the module, an f-string's literal parts joined as they are written (a
    table name's constant from ``tables.schema`` as the name it stands for, any other value
    as ``{}``)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            found.append("".join(_part(v) for v in node.values))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append(node.value)
    return found


def _part(value: ast.expr) -> str:
    if isinstance(value, ast.Constant):
        return str(value.value)
    inner = value.value if isinstance(value, ast.FormattedValue) else value
    name = inner.id if isinstance(inner, ast.Name) else inner.attr if isinstance(inner, ast.Attribute) else ""
    return TABLE_CONSTANTS.get(name, "{}")


def _reads_a_table(source: str) -> bool:
    """Whether the module's SQL reads a projection table, however it names it."""
    return TABLE.search(" ".join(_texts(ast.parse(source)))) is not None


def _module(path: Path) -> str:
    """The module ``path`` is installed as (``projections/x.py`` → ``civicloop.projections.x``)."""
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(("civicloop", *parts[parts[0] == "civicloop" :])).removesuffix(".__init__")


def _imported(tree: ast.AST) -> set[str]:
    """Every module a module imports from, and every name it imports as a module might be."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
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


def test_the_layers_above_import_reads_of_the_projections_from_the_read_model_only() -> None:
    # given the modules of projections/ that read a projection table outside the read model
    readers = {
        _module(path)
        for path in _modules("projections")
        if not _module(path).startswith(READ_MODEL) and _reads_a_table(path.read_text())
    }
    assert set(SWEEP) <= readers  # the check sees them: they read the event log and signal_progress

    # then no layer above imports one, the signals sweep aside
    offenders = [
        f"{path.relative_to(REPO)}: imports {name}"
        for folder in READERS
        for path in _modules(folder)
        for name in sorted(_imported(ast.parse(path.read_text())) & (readers - set(SWEEP)))
    ]
    assert offenders == []


def test_a_read_of_a_projection_table_is_seen_however_the_table_is_named() -> None:
    # given reads as they were written outside the read model (a table named by its constant,
    # imported or through the schema module), then each is seen; SQL on system tables is not
    written = [
        'f"SELECT partition, max(offset) FROM {database}.{PROGRESS} WHERE topic = %(topic)s"',
        'f"SELECT occurred_at, type FROM {database}.{schema.SIGNALS} FINAL"',
        '("SELECT case_id, state " f"FROM {database}.{CASE_LIFECYCLE} FINAL")',
    ]
    system = 'f"SELECT name FROM system.tables WHERE database = {db!r}"'

    assert all(_reads_a_table(code) for code in written)
    assert not _reads_a_table(system)


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
        "signals.COLUMNS": (signals.COLUMNS, schema.SIGNALS),
        "worklist.CASE_FACTS": (worklist.CASE_FACTS, schema.CASE_LIFECYCLE),
        "worklist.CASE_SELECTED": (_plain(worklist.CASE_SELECTED), schema.CASE_LIFECYCLE),
        "worklist.TASK_SELECTED": (_plain(worklist.TASK_SELECTED), schema.CASE_TASKS),
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


def _plain(selected: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    """The columns a (name, expression) list selects as they are (not computed)."""
    return tuple(expression for _, expression in selected if expression.isidentifier())
