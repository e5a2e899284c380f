"""The oracles are independent of what they check (docs: "no oracle that imports the code it
checks"): the metric oracles import nothing from ``civicloop.projections``, and the import
oracle imports nothing of civicloop at all."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SUPPORT = Path(__file__).parents[1] / "support"


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports (``from x import y`` gives ``x``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("name", ["reference.py", "reference_metrics.py"])
def test_metric_oracles_import_nothing_of_projections(name: str) -> None:
    assert not {m for m in imports(SUPPORT / name) if m.startswith("civicloop.projections")}


def test_the_import_oracle_imports_nothing_of_civicloop() -> None:
    assert not {m for m in imports(SUPPORT / "reference_import.py") if m.startswith("civicloop")}


def test_the_check_sees_an_import() -> None:
    probe = SUPPORT.parent / "unit" / "test_oracles.py"  # this file imports pytest
    assert "pytest" in imports(probe)
