"""A process running the compiled build says so when the build changed under it.

Its fold processes, started later with ``CIVICLOOP_COMPILED=1``, refuse a build whose sources
were edited (or that was removed) and die importing civicloop; the parent sees only that they
are gone, so it names the cause itself (``compiled.changed_since``).
"""

from __future__ import annotations

import json
from pathlib import Path

from civicloop import compiled
from civicloop.compiled import Chosen

RUNS_BUILD = Chosen("1", True, "mypyc build")


def _build(tmp_path: Path, digests: dict[str, str]) -> Path:
    modules = {m: [f"{m}.so", _source(m), digests.get(m, "")] for m in compiled.MODULES}
    (tmp_path / compiled.MANIFEST).write_text(
        json.dumps({"modules": modules, "group": "civicloop_group", "group_file": "group.so"})
    )
    return tmp_path


def _source(module: str) -> str:
    return f"{module.replace('.', '/').removeprefix('civicloop/')}.py"


def _current(module: str) -> str:
    return compiled.digest(compiled.ROOT / _source(module))


def test_a_build_made_from_the_sources_as_they_are_has_not_changed(tmp_path: Path) -> None:
    build = _build(tmp_path, {m: _current(m) for m in compiled.MODULES})

    assert compiled.changed_since(RUNS_BUILD, build) is None


def test_an_edited_source_is_named(tmp_path: Path) -> None:
    digests = {m: _current(m) for m in compiled.MODULES} | {"civicloop.projections.fold.rules": "0" * 32}
    build = _build(tmp_path, digests)

    said = compiled.changed_since(RUNS_BUILD, build)

    assert said == (
        "projections/fold/rules.py changed since the compiled build (make compiled), "
        "after this process started with the build"
    )


def test_a_removed_build_is_named_and_the_sources_never_change_under_a_process(tmp_path: Path) -> None:
    said = compiled.changed_since(RUNS_BUILD, tmp_path / "gone")

    assert said is not None and said.startswith(f"no compiled build in {tmp_path / 'gone'}")
    assert compiled.changed_since(Chosen("auto", False, "pure"), tmp_path / "gone") is None
