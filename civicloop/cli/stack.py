"""Operators' commands for the local stack: up, down, status, worker, demo, kafka, clickhouse,
config."""

from __future__ import annotations

import typer
from rich.table import Table

from civicloop import config as config_module
from civicloop.cli.common import configured, console


def register(app: typer.Typer) -> None:
    for command in (up, down, status, worker, demo):
        app.command()(command)
    app.command("config")(show_config)
    kafka_app = typer.Typer(
        help="The local Apache Kafka broker (KRaft, official jars).", no_args_is_help=True
    )
    kafka_app.command("up")(kafka_up)
    kafka_app.command("down")(kafka_down)
    kafka_app.command("status")(kafka_status)
    app.add_typer(kafka_app, name="kafka")
    clickhouse_app = typer.Typer(
        help="A throwaway ClickHouse server (Debian's package).", no_args_is_help=True
    )
    clickhouse_app.command("up")(clickhouse_up)
    clickhouse_app.command("down")(clickhouse_down)
    app.add_typer(clickhouse_app, name="clickhouse")


def up() -> None:
    """Start the local stack in the background: the broker (unless configured), a worker, the API."""
    from civicloop.tools.local import stack

    cfg = configured()
    stack.up(cfg)
    _print_status(cfg)


def down() -> None:
    """Stop what `civicloop up` started."""
    from civicloop.tools.local import stack

    stopped = stack.down(configured())
    console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")


def status() -> None:
    """Show what is running: broker, worker, projection figures."""
    _print_status(configured())


def _print_status(cfg: config_module.Config) -> None:
    from civicloop.tools.local import stack

    table = Table(title=f"civicloop ({cfg.namespace})")
    for column in ("part", "state", "detail"):
        table.add_column(column)
    for part in stack.status(cfg):
        table.add_row(part.name, "[green]running[/]" if part.running else "[red]stopped[/]", part.detail)
    table.add_row("clickhouse", "", cfg.clickhouse_url)
    console.print(table)


def worker(
    loglevel: str = typer.Option("warn", help="Faust's log level: crit, error, warn, info, debug."),
) -> None:
    """Run one projection worker in the foreground (Ctrl-C stops it cleanly)."""
    from civicloop.streams.worker import run

    run(configured(), loglevel=loglevel)


def demo(reports: int = typer.Option(300, help="How many simulated reports to produce.")) -> None:
    """Reports through the real broker and worker into ClickHouse, then a table of them."""
    from civicloop.tools.demo import run

    raise typer.Exit(run(configured(), count=reports))


def show_config() -> None:
    """List the environment variables civicloop reads, their defaults and current values."""
    import os

    table = Table(title="configuration (environment variables)")
    for column in ("variable", "default", "current", "meaning"):
        table.add_column(column, overflow="fold")
    for name, (default, meaning) in config_module.VARIABLES.items():
        table.add_row(name, default or "(empty)", os.environ.get(name, ""), meaning)
    console.print(table)


def kafka_up() -> None:
    """Resolve the jars once (Maven), format KRaft storage, start the broker, wait for it."""
    from civicloop.tools.local.kafka_broker import LocalKafka

    console.print(f"kafka bootstrap: {LocalKafka(configured()).up()}")


def kafka_down() -> None:
    """Stop the local broker (its data stays under var/kafka)."""
    from civicloop.tools.local.kafka_broker import LocalKafka

    console.print("stopped" if LocalKafka(configured()).down() else "was not running")


def kafka_status() -> None:
    """Print the local broker's bootstrap address, or say it is not running."""
    from civicloop.tools.local.kafka_broker import LocalKafka

    address = LocalKafka(configured()).bootstrap()
    console.print(f"running at {address}" if address else "not running")
    raise typer.Exit(0 if address else 1)


def clickhouse_up() -> None:
    """Start a ClickHouse server on free ports under var/clickhouse; print its URL."""
    from civicloop.tools.local.clickhouse_server import LocalClickHouse

    console.print(LocalClickHouse(configured().var / "clickhouse").up())


def clickhouse_down() -> None:
    """Stop the server started by `civicloop clickhouse up`."""
    from civicloop.tools.local.clickhouse_server import LocalClickHouse

    stopped = LocalClickHouse(configured().var / "clickhouse").down()
    console.print("stopped" if stopped else "was not running")
