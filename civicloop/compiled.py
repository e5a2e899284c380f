"""Which implementation of the per-event path runs: the mypyc-compiled modules, or their sources.

The fold, the contract check and the row builder run for every event (docs/DESIGN.md §8).
``make compiled`` (run by ``make venv``, so by ``make test``, ``make demo`` and ``make check``)
compiles the modules of ``MODULES`` with mypyc into ``build/compiled/``, beside the sources, not
over them: the ``.py`` files stay importable as they are, for the equivalence test
(tests/unit/test_compiled_equivalence.py) and as the fallback.

The choice is made once per process, here, when ``civicloop`` is first imported (before any
of these modules is): ``CIVICLOOP_COMPILED`` ``auto`` (the default) runs the build when it is
there and was built from the sources as they are now, the sources otherwise; ``1`` insists on
the build (importing civicloop fails saying why it cannot); ``0`` runs the sources. The build
records a digest of each source it compiled, so an edited module is never shadowed by a stale
build. ``CHOSEN`` says what this process runs and why (``civicloop status``, the worker's health).
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import Any

#: the compiled modules (all in the folders installed as civicloop's sub-packages): each one a
#: profile of the fold showed per-event time in
MODULES: tuple[str, ...] = (
    # the contract check of every decoded event (the codec itself is fastavro's C)
    "civicloop.schemas.event",
    "civicloop.schemas.ids",
    "civicloop.schemas.rules",
    "civicloop.schemas.limits",
    # the fold
    "civicloop.projections.fold.states",
    "civicloop.projections.fold.clock",
    "civicloop.projections.fold.casestate",
    "civicloop.projections.fold.guards",
    "civicloop.projections.fold.rules",
    "civicloop.projections.fold.effects",
    "civicloop.projections.fold.lifecycle",
    "civicloop.projections.fold.calendar",
    # the rows
    "civicloop.projections.tables.lifecycle",
    "civicloop.projections.tables.rows",
    "civicloop.projections.tables.periods",
    "civicloop.projections.tables.event_log",
)
#: the source tree (the repository, for the editable install every make target uses)
ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "compiled"
MANIFEST = "manifest.json"  # module → (extension file, source path, source digest), and the group


@dataclass(frozen=True)
class Chosen:
    setting: str  # CIVICLOOP_COMPILED as given: auto, 1 or 0
    compiled: bool  # the compiled modules run in this process
    why: str  # where they come from, or why the sources run

    def describe(self) -> str:
        return f"{'compiled (mypyc)' if self.compiled else 'pure Python'}: {self.why}"


def digest(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()


def _usable(build: Path) -> tuple[dict[str, Path], str | None]:
    """(module → extension file, None) for a build made from the current sources, else
    ({}, what is wrong with it)."""
    try:
        manifest = json.loads((build / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}, f"no compiled build in {build} (make compiled)"
    files = {}
    for module, (extension, source, built_from) in manifest["modules"].items():
        try:
            current = digest(ROOT / source)
        except OSError:
            return {}, f"{source} is missing"
        if current != built_from:
            return {}, f"{source} changed since the compiled build (make compiled)"
        files[module] = build / extension
    files[manifest["group"]] = build / manifest["group_file"]
    if set(MODULES) - files.keys():
        return {}, f"the build in {build} lacks {sorted(set(MODULES) - files.keys())} (make compiled)"
    return files, None


class _Finder:
    """Imports the modules of a build from its extension files (a ``sys.meta_path`` entry ahead
    of the editable install's finder: the sources stay where they are)."""

    def __init__(self, files: dict[str, Path]) -> None:
        self.files = files

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        found = self.files.get(name)
        if found is None:
            return None
        loader = importlib.machinery.ExtensionFileLoader(name, str(found))
        return importlib.util.spec_from_file_location(name, found, loader=loader)


def choose(setting: str, build: Path = BUILD) -> Chosen:
    """Make the choice for this process (``setting``: CIVICLOOP_COMPILED)."""
    if setting == "0":
        return Chosen(setting, False, "CIVICLOOP_COMPILED=0")
    loaded = [m for m in MODULES if m in sys.modules]
    files, problem = _usable(build) if not loaded else ({}, f"{loaded[0]} was imported first")
    if problem is None:
        sys.meta_path.insert(0, _Finder(files))
        return Chosen(setting, True, f"mypyc build in {build}")
    if setting == "1":
        raise ImportError(f"CIVICLOOP_COMPILED=1, but {problem}")
    return Chosen(setting, False, problem)


def changed_since(chosen: Chosen, build: Path = BUILD) -> str | None:
    """Why a process started now would not run what ``chosen`` runs: the build was removed, or
    its sources edited, after this process chose it (with ``CIVICLOOP_COMPILED=1`` a fold
    process then fails to import civicloop, and its parent sees only that it is gone)."""
    if not chosen.compiled:
        return None
    problem = _usable(build)[1]
    return None if problem is None else f"{problem}, after this process started with the build"


def build(out: Path = BUILD) -> None:
    """Compile ``MODULES`` with mypyc into ``out`` (``make compiled``). The build happens beside
    ``out`` and replaces it only when complete: a failed build leaves the previous one (whose
    digests still say whether it matches the sources)."""
    import os
    import shutil

    from mypyc.build import mypycify
    from setuptools import setup

    work = out.with_name(out.name + ".tmp")
    shutil.rmtree(work, ignore_errors=True)
    _link_tree(work / "src")
    here = Path.cwd()
    os.chdir(work / "src")  # mypy names each module by its path in the package tree
    try:
        paths = [str(Path(*m.split("."))) + ".py" for m in MODULES]
        options = ["--config-file", str(ROOT / "pyproject.toml"), *paths]
        extensions = mypycify(options, opt_level="3", group_name=GROUP, target_dir=str(work / "c"))
        commands = ["build_ext", "--build-lib", str(work / "lib"), "--build-temp", str(work / "o")]
        setup(name="civicloop-compiled", ext_modules=extensions, script_args=["-q", *commands])
    finally:
        os.chdir(here)
    lib = work / "lib"
    (lib / MANIFEST).write_text(json.dumps(_manifest(lib), indent=1))
    shutil.rmtree(out, ignore_errors=True)
    lib.rename(out)
    shutil.rmtree(work)


GROUP = "civicloop_compiled"  # mypyc's shared library: civicloop_compiled__mypyc


def _manifest(lib: Path) -> dict[str, Any]:
    def extension(module: str) -> str:
        *package, name = module.split(".")
        (found,) = lib.joinpath(*package).glob(f"{name}.*.so")
        return str(found.relative_to(lib))

    (group,) = lib.glob(f"{GROUP}__mypyc.*.so")
    modules = {m: [extension(m), str(_source(m).relative_to(ROOT)), digest(_source(m))] for m in MODULES}
    return {"group": f"{GROUP}__mypyc", "group_file": group.name, "modules": modules}


#: the folders installed as sub-packages of civicloop (pyproject.toml: civicloop.schemas = schemas/, …)
_FOLDERS = ("schemas", "streams", "projections", "api", "tools")


def _source(module: str) -> Path:
    """The source of ``module``, one of the folders installed as sub-packages of civicloop
    (pyproject.toml): civicloop.projections.fold.x is projections/fold/x.py."""
    _, *parts = module.split(".")
    return ROOT.joinpath(*parts).with_suffix(".py")


def _link_tree(tree: Path) -> None:
    """The installed package's layout as links to the repository's folders (as ``make lint``)."""
    package = tree / "civicloop"
    package.mkdir(parents=True)
    for item in (ROOT / "civicloop").iterdir():
        (package / item.name).symlink_to(item)
    for folder in _FOLDERS:
        (package / folder).symlink_to(ROOT / folder)
