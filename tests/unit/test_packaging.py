"""The wheel must hold every module and data file the code loads (not only the editable install)."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOP = {
    "civicloop": "civicloop",
    "schemas": "civicloop.schemas",
    "streams": "civicloop.streams",
    "projections": "civicloop.projections",
    "api": "civicloop.api",
    "tools": "civicloop.tools",
}


def test_every_python_package_is_listed_in_pyproject() -> None:
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = set()
    for folder, name in TOP.items():
        for init in (REPO / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(REPO / folder).parts
            found.add(".".join((name, *relative)))

    assert found == listed
