"""What a ``civicloop`` process imports before it does its work.

Every end-to-end test and every supervised restart starts ``civicloop worker``; each module
its import path pulls in that the worker does not use (the bench, the API, the analysts'
commands and what they import) is paid for at every start. The top-level group imports a
command's module only when the command is looked up (``civicloop.cli.COMMANDS``).
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from importlib import import_module

import typer

from civicloop import cli

# Modules the worker's import path must not load: other commands' modules and what they import.
NOT_FOR_THE_WORKER = (
    "civicloop.cli.bench",
    "civicloop.cli.analytics",
    "civicloop.cli.ingest",
    "civicloop.cli.replay",
    "civicloop.cli.api",
    "civicloop.tools.bench",
    "civicloop.tools.ingest",
    "civicloop.api",
    "fastapi",
    "scipy",
)
# ... and what only a server or cluster deployment loads (projections/backend.py opens by kind)
ON_A_SERVER_ONLY = (
    "clickhouse_driver",
    "civicloop.projections.store.server",
    "civicloop.projections.store.cluster",
)


def loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code`` (a process of its own, so
    what this test process imported does not count)."""
    probe = code + "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_the_worker_command_loads_only_the_worker_and_what_it_uses(tmp_path):
    # given the worker command looked up as `civicloop worker` does, the worker module it runs,
    # and the writer a chDB deployment's worker opens
    loaded = loaded_after(
        "import typer.main\n"
        "from civicloop.cli import app\n"
        "group = typer.main.get_command(app)\n"
        "assert group.get_command(typer.Context(group), 'worker') is not None\n"
        "import civicloop.streams.worker\n"
        "from civicloop.projections import backend\n"
        f"backend.open_store('chdb://{tmp_path / 'chdb'}').close()\n"
    )
    # then nothing of the other commands came with it, nor the server's driver
    assert {"civicloop.cli.stack", "civicloop.projections.store.chdb"} <= loaded  # the probe ran
    assert sorted(loaded.intersection(NOT_FOR_THE_WORKER + ON_A_SERVER_ONLY)) == []


def test_the_supervisor_loads_no_worker_and_no_store():
    loaded = loaded_after(
        "import typer.main\n"
        "from civicloop.cli import app\n"
        "group = typer.main.get_command(app)\n"
        "assert group.get_command(typer.Context(group), 'supervise') is not None\n"
        "import civicloop.tools.local.supervisor\n"
    )
    heavy = {"faust", "pyarrow", "chdb", "clickhouse_driver", "civicloop.projections"}
    assert sorted(loaded & (heavy | set(NOT_FOR_THE_WORKER))) == []


def test_each_module_registers_the_commands_the_table_names():
    for module, names in cli.COMMANDS.items():
        app = typer.Typer()
        import_module(f"civicloop.cli.{module}").register(app)
        assert tuple(typer.main.get_group(app).commands) == names, module


def test_every_module_that_registers_commands_is_in_the_table():
    # a new command module left out of COMMANDS would never be imported, its commands missing
    modules = {info.name for info in pkgutil.iter_modules(cli.__path__)} - {"__main__"}  # runs the CLI
    registering = {name for name in modules if hasattr(import_module(f"civicloop.cli.{name}"), "register")}
    assert registering == set(cli.COMMANDS)
