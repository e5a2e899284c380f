"""``civicloop``: the single entry point for operators, analysts and the Makefile."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from civicloop import config as config_module
from civicloop import log

app = typer.Typer(help="civicloop: citizen-report cases as events on Kafka, projected into ClickHouse.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
kafka_app = typer.Typer(help="The local Apache Kafka broker (KRaft, official jars).", no_args_is_help=True)
clickhouse_app = typer.Typer(help="A throwaway ClickHouse server (Debian's package).", no_args_is_help=True)
schemas_app = typer.Typer(help="The Avro event contract.", no_args_is_help=True)
app.add_typer(kafka_app, name="kafka")
app.add_typer(clickhouse_app, name="clickhouse")
app.add_typer(schemas_app, name="schemas")
console = Console()
err = Console(stderr=True)
def _config() -> config_module.Config:
    log.configure()
    return config_module.load()


@app.command()
def up() -> None:
    """Start the local stack in the background: the broker (unless configured) and a worker."""
    from civicloop.tools import stack

    cfg = _config()
    stack.up(cfg)
    _print_status(cfg)


@app.command()
def down() -> None:
    """Stop what `civicloop up` started."""
    from civicloop.tools import stack

    stopped = stack.down(_config())
    console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")


@app.command()
def status() -> None:
    """Show what is running: broker, worker, projection figures."""
    _print_status(_config())


def _print_status(cfg: config_module.Config) -> None:
    from civicloop.tools import stack

    table = Table(title=f"civicloop ({cfg.namespace})")
    for column in ("part", "state", "detail"):
        table.add_column(column)
    for part in stack.status(cfg):
        table.add_row(part.name, "[green]running[/]" if part.running else "[red]stopped[/]", part.detail)
    table.add_row("clickhouse", "", cfg.clickhouse_url)
    console.print(table)


@app.command()
def worker(loglevel: str = typer.Option("warn", help="Faust's log level: crit, error, warn, info, debug."),
           ) -> None:
    """Run one projection worker in the foreground (Ctrl-C stops it cleanly)."""
    from civicloop.streams.worker import run

    run(_config(), loglevel=loglevel)


@app.command()
def demo(reports: int = typer.Option(300, help="How many simulated reports to produce.")) -> None:
    """Reports through the real broker and worker into ClickHouse, then a table of them."""
    from civicloop.tools.demo import run

    raise typer.Exit(run(_config(), count=reports))


@app.command()
def sql(query: str) -> None:
    """Run one read-only SQL query against the configured ClickHouse (through the worker for chDB)."""
    from civicloop.projections.reader import open_reader

    for row in open_reader(_config()).query(query):
        console.print("\t".join("NULL" if v is None else str(v) for v in row), highlight=False)


@app.command("config")
def show_config() -> None:
    """List the environment variables civicloop reads, their defaults and current values."""
    import os

    table = Table(title="configuration (environment variables)")
    for column in ("variable", "default", "current", "meaning"):
        table.add_column(column, overflow="fold")
    for name, (default, meaning) in config_module.VARIABLES.items():
        table.add_row(name, default or "(empty)", os.environ.get(name, ""), meaning)
    console.print(table)


@kafka_app.command("up")
def kafka_up() -> None:
    """Resolve the jars once (Maven), format KRaft storage, start the broker, wait for it."""
    from civicloop.tools.kafka_local import LocalKafka

    console.print(f"kafka bootstrap: {LocalKafka(_config()).up()}")


@kafka_app.command("down")
def kafka_down() -> None:
    """Stop the local broker (its data stays under var/kafka)."""
    from civicloop.tools.kafka_local import LocalKafka

    console.print("stopped" if LocalKafka(_config()).down() else "was not running")


@kafka_app.command("status")
def kafka_status() -> None:
    """Print the local broker's bootstrap address, or say it is not running."""
    from civicloop.tools.kafka_local import LocalKafka

    address = LocalKafka(_config()).bootstrap()
    console.print(f"running at {address}" if address else "not running")
    raise typer.Exit(0 if address else 1)


@clickhouse_app.command("up")
def clickhouse_up() -> None:
    """Start a ClickHouse server on free ports under var/clickhouse; print its URL."""
    from civicloop.tools.clickhouse_server import LocalClickHouse

    console.print(LocalClickHouse(_config().var / "clickhouse").up())


@clickhouse_app.command("down")
def clickhouse_down() -> None:
    """Stop the server started by `civicloop clickhouse up`."""
    from civicloop.tools.clickhouse_server import LocalClickHouse

    stopped = LocalClickHouse(_config().var / "clickhouse").down()
    console.print("stopped" if stopped else "was not running")


@schemas_app.command("check")
def schemas_check(path: Annotated[Path | None, typer.Argument(help="schemas/avro tree")] = None) -> None:
    """Fail when a schema change is not backward-transitive compatible."""
    from civicloop.schemas.compat import AVRO_DIR, check_tree

    problems = check_tree(path or AVRO_DIR)
    for problem in problems:
        err.print(f"[red]incompatible:[/] {problem}")
    if problems:
        raise typer.Exit(1)
    console.print("schemas: every version reads every older one")


def _register_tools() -> None:
    from civicloop.tools import analytics, bench, privacy_cli, produce, replay
    from civicloop.tools.importers import cli as importers_cli
    from civicloop.tools.simulate import cli as simulate_cli

    analytics.register(app)
    importers_cli.register(app)
    simulate_cli.register(app)
    produce.register(app)
    bench.register(app)
    replay.register(app)
    privacy_cli.register(app)


_register_tools()


def main() -> None:
    """Entry point: errors a user can fix become one red line and exit status 2, not a traceback."""
    try:
        app()
    except Exception as exc:
        message = _for_the_user(exc)
        if message is None:
            raise
        err.print(f"[red]error:[/] {message}", highlight=False)
        sys.exit(2)


def _for_the_user(exc: Exception) -> str | None:
    """The message for an error the user can act on (configuration, missing tools or services,
    a stack that would not start), or None for a bug, which keeps its traceback."""
    from civicloop.projections.store import StoreURLError
    from civicloop.streams.kafka import NoKafka
    from civicloop.tools.kafka_local import ToolMissing

    text = str(exc)
    if "UNKNOWN_DATABASE" in text or "Code: 81." in text:
        return ("nothing has been projected here yet (the database does not exist): start a "
                "worker (`civicloop up`) and produce events first.\n" + text.splitlines()[0])
    if isinstance(exc, NoKafka | ToolMissing | StoreURLError | TimeoutError | RuntimeError | ValueError):
        return text
    return None


if __name__ == "__main__":
    main()
