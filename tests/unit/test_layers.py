"""Dependencies point one way: cli → tools → streams → projections → schemas.

The folder layout is the architecture (docs/DESIGN.md §2); this test keeps it honest. A module
may import its own layer and any lower one; ``civicloop.{config,geography,log,privacy,runtime,stats}``
are the base every layer may use, and they import no layer. Inside projections, the fold is
pure: it imports the schemas and nothing else of projections.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: import prefix → rank; a module may import only prefixes of rank <= its own
LAYERS: tuple[tuple[str, int], ...] = (
    ("civicloop.schemas", 1),
    ("civicloop.projections", 2),
    ("civicloop.streams", 3),
    ("civicloop.api", 4),
    ("civicloop.tools", 5),
    ("civicloop.cli", 6),
    ("civicloop", 0),  # config, log, privacy, runtime, stats: the base of every layer
)
#: folder → the package it is installed as (pyproject's package-dir)
FOLDERS = {
    "schemas": "civicloop.schemas",
    "projections": "civicloop.projections",
    "streams": "civicloop.streams",
    "api": "civicloop.api",
    "tools": "civicloop.tools",
    "civicloop": "civicloop",
}
PURE = "civicloop.projections.fold"


def rank(module: str) -> int | None:
    for prefix, value in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            return value
    return None


def imported(source: str, module: str) -> list[str]:
    """Every civicloop module ``source`` (the text of ``module``) imports, relative ones
    resolved."""
    found = []
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found += [f"{base}.{alias.name}" for alias in node.names]
    return [name for name in found if name.startswith("civicloop")]


def violations(module: str, source: str) -> list[str]:
    """The wrong-way imports of ``module`` (given as its source text)."""
    own = rank(module)
    assert own is not None, module
    wrong = []
    for name in imported(source, module):
        target = rank(name)
        if target is not None and target > own:
            wrong.append(f"{module} imports {name}")
        elif (
            module.startswith(PURE + ".")
            and name.startswith("civicloop.projections")
            and not name.startswith(PURE)
        ):
            wrong.append(f"{module} (the pure fold) imports {name}")
    return wrong


def modules() -> list[tuple[str, Path]]:
    found = []
    for folder, package in FOLDERS.items():
        for path in sorted((REPO / folder).rglob("*.py")):
            parts = path.relative_to(REPO / folder).with_suffix("").parts
            name = ".".join((package, *parts)).removesuffix(".__init__")
            found.append((name, path))
    return found


def test_the_checker_catches_a_wrong_way_import() -> None:
    # given a projection module that imports the streams layer, and a fold module that
    # imports a store; when checked, then both are reported
    assert violations("civicloop.projections.projector", "from civicloop.streams import kafka") == [
        "civicloop.projections.projector imports civicloop.streams.kafka"
    ]
    assert violations("civicloop.projections.fold.lifecycle", "from ..store.base import Store") == [
        "civicloop.projections.fold.lifecycle (the pure fold) imports civicloop.projections.store.base.Store"
    ]
    assert violations("civicloop.config", "import civicloop.tools.demo") == [
        "civicloop.config imports civicloop.tools.demo"
    ]
    # and imports that point down are fine
    assert violations("civicloop.tools.demo", "from civicloop.streams import kafka") == []


def test_every_module_is_in_a_layer() -> None:
    unplaced = [name for name, _ in modules() if rank(name) is None]
    assert unplaced == []
    assert len(modules()) > 50  # the walk really found the code


@pytest.mark.parametrize("folder", sorted(FOLDERS))
def test_dependencies_point_one_way(folder: str) -> None:
    wrong = [
        v
        for name, path in modules()
        if path.is_relative_to(REPO / folder)
        for v in violations(name, path.read_text())
    ]
    assert wrong == []


def test_the_metric_oracle_imports_nothing_it_checks() -> None:
    # given the oracles in tests/support, when their imports are listed, then none is from the
    # projections (fold, rows, SQL or metrics): a wrong definition there cannot pass through them
    for name in ("reference", "reference_metrics"):
        path = REPO / "tests" / "support" / f"{name}.py"
        found = imported(path.read_text(), f"tests.support.{name}")
        assert [n for n in found if n.startswith("civicloop.projections")] == []
