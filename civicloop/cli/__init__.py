"""``civicloop``: the single entry point for operators, analysts and the Makefile.

Every command is wired here: each module of this package adds its commands with
``register(app)``; the work itself lives in ``tools/``, ``streams/`` and ``projections/``.

A command's module is imported only when that command runs (``COMMANDS`` says which module
registers which command): ``civicloop worker``, started by every supervised restart and by
every end-to-end test, then loads the worker and its store, not the bench, the server driver,
the API or the analysts' tools. ``civicloop --help`` imports every module to show each help text.
"""

from __future__ import annotations

import importlib
import sys
from functools import cache

import typer
from rich.markup import escape
from typer import _click as click  # typer 0.29 carries its own click; its groups are made of these
from typer.core import TyperGroup

from civicloop.cli.common import err

# module of this package -> the commands its register(app) adds, in the order --help lists them
# (tests/unit/test_cli_commands.py checks that each module adds exactly these)
COMMANDS: dict[str, tuple[str, ...]] = {
    "stack": ("up", "down", "status", "worker", "demo", "config", "supervise", "kafka", "clickhouse"),
    "api": ("api", "apikey"),
    "analytics": ("metrics", "durations", "backlog", "sql"),
    "signals": ("signals", "hotspots", "nearby"),
    "report": ("report",),
    "ingest": ("import",),
    "simulate": ("simulate",),
    "produce": ("produce",),
    "replay": ("replay",),
    "privacy": ("erase", "contact"),
    "notify": ("notifier", "webhook"),
    "schemas": ("schemas",),
    "bench": ("bench",),
}
MODULE_OF = {command: module for module, commands in COMMANDS.items() for command in commands}


@cache
def registered(module: str) -> dict[str, click.Command]:
    """The commands ``civicloop.cli.<module>`` registers, as click commands by name."""
    commands = typer.Typer()
    importlib.import_module(f"civicloop.cli.{module}").register(commands)
    return dict(typer.main.get_group(commands).commands)


class LazyCommands(TyperGroup):
    """The top-level group: it knows command names from ``COMMANDS`` and imports a command's
    module when the command is looked up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(MODULE_OF)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = MODULE_OF.get(cmd_name)
        return registered(module).get(cmd_name) if module else None


app = typer.Typer(
    cls=LazyCommands,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def civicloop() -> None:
    """civicloop: citizen-report cases as events on Kafka, projected into ClickHouse."""


def main() -> None:
    """Entry point: errors a user can fix become one red line and exit status 2, not a traceback."""
    try:
        app()
    except Exception as exc:
        message = _for_the_user(exc)
        if message is None:
            raise
        # soft_wrap: one line however long, so scripts and people see the whole message
        err.print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
        sys.exit(2)


def _for_the_user(exc: Exception) -> str | None:
    """The message for an error the user can act on (configuration, missing tools or services,
    a stack that would not start), or None for a bug, which keeps its traceback."""
    from civicloop.privacy import KeyStoreNotPrivate
    from civicloop.projections.backend import StoreURLError
    from civicloop.streams.kafka import NoKafka
    from civicloop.tools.local.maven import ToolMissing

    text = str(exc)
    if "UNKNOWN_DATABASE" in text or "Code: 81." in text:
        return (
            "nothing has been projected here yet (the database does not exist): start a "
            "worker (`civicloop up`) and produce events first.\n" + text.splitlines()[0]
        )
    services = (NoKafka, ToolMissing, StoreURLError, KeyStoreNotPrivate, TimeoutError)
    if isinstance(exc, services) or isinstance(exc, RuntimeError | ValueError):
        return text
    return None


if __name__ == "__main__":
    main()
