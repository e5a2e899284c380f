"""Operators' commands for the local stack: up, down, status, worker, demo, kafka, clickhouse,
config."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

import civicloop
from civicloop import config as config_module
from civicloop.cli.common import configured, console, err

if TYPE_CHECKING:
    from civicloop.tools.local.clickhouse_cluster import Layout


def register(app: typer.Typer) -> None:
    for command in (up, down, status, worker, demo):
        app.command()(command)
    app.command("config")(show_config)
    app.command(
        "supervise",
        hidden=True,
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )(supervise)
    kafka_app = typer.Typer(
        help="The local Apache Kafka broker (KRaft, official jars).", no_args_is_help=True
    )
    kafka_app.command("up")(kafka_up)
    kafka_app.command("down")(kafka_down)
    kafka_app.command("status")(kafka_status)
    app.add_typer(kafka_app, name="kafka")
    clickhouse_app = typer.Typer(
        help="A throwaway ClickHouse server or cluster (Debian's package).", no_args_is_help=True
    )
    clickhouse_app.command("up")(clickhouse_up)
    clickhouse_app.command("down")(clickhouse_down)
    app.add_typer(clickhouse_app, name="clickhouse")


def up(
    workers: Annotated[
        int, typer.Option(min=1, help="Workers in the consumer group (more than one needs a server).")
    ] = 1,
) -> None:
    """Start the local stack in the background: the broker (unless configured) the worker(s), the API."""
    from civicloop.tools.local import stack

    cfg = configured()
    try:
        stack.up(cfg, workers)
    except ValueError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
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
        table.add_row(part.name, _coloured(part.state), part.detail)
    cluster = f" cluster={cfg.clickhouse_cluster}" if cfg.clickhouse_cluster else ""
    table.add_row("clickhouse", "", cfg.clickhouse_url + cluster)
    # What a process started from here runs (the worker's health says what it runs itself).
    chosen = civicloop.CHOSEN
    table.add_row("per-event path", "compiled" if chosen.compiled else "pure Python", chosen.why)
    console.print(table)


STATE_COLOURS = {
    "running": "green",
    "ok": "green",
    "configured": "green",
    "degraded": "red",
    "stopped": "red",
    "waiting": "yellow",
}


def _coloured(state: str) -> str:
    colour = STATE_COLOURS.get(state)
    return f"[{colour}]{state}[/]" if colour else state


def worker(
    loglevel: str = typer.Option("warn", help="Faust's log level: crit, error, warn, info, debug."),
) -> None:
    """Run one projection worker in the foreground (Ctrl-C stops it cleanly)."""
    from civicloop.streams.worker import run

    run(configured(), loglevel=loglevel)


def supervise(
    ctx: typer.Context,
    status_file: Annotated[Path, typer.Option(help="Where to keep the child's pid, restarts, exit code.")],
) -> None:
    """Run the command after `--` and restart it with backoff whenever it dies (used by `up`)."""
    from civicloop.tools.local.supervisor import Supervisor

    config = configured()
    raise typer.Exit(Supervisor(ctx.args, status_file, first_delay=config.supervisor_backoff).run())


def demo(reports: int = typer.Option(300, help="How many simulated reports to produce.")) -> None:
    """Reports through the real broker and worker into ClickHouse, then a table of them."""
    from civicloop.tools.demo import run

    raise typer.Exit(run(configured(), count=reports))


def show_config() -> None:
    """List the environment variables civicloop reads, their defaults and current values."""
    import os

    table = Table(title="configuration (environment variables)")
    table.add_column("variable", no_wrap=True)  # whole, to be copied, however narrow the terminal
    for column in ("default", "current", "meaning"):
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


def clickhouse_up(
    shards: Annotated[
        int | None, typer.Option(min=1, help="Start a cluster of this many shards (with ZooKeeper).")
    ] = None,
    replicas: Annotated[
        int | None, typer.Option(min=1, help="Replicas of each shard in the cluster.")
    ] = None,
    name: Annotated[str, typer.Option(help="The cluster's name (its remote_servers entry).")] = "civicloop",
) -> None:
    """Start a ClickHouse server on free ports under var/clickhouse and print its URL; with
    --shards/--replicas, a cluster of N×M servers plus ZooKeeper under var/clickhouse-cluster,
    and print its entry node's URL and `cluster=<name>`. Either way it defines the read-only user
    civicloop_reader, allowed the namespace's database only, and prints its URL for
    CIVICLOOP_CLICKHOUSE_READER_URL (docs/OPERATIONS.md)."""
    from civicloop.tools.local.clickhouse_cluster import LocalCluster
    from civicloop.tools.local.clickhouse_server import LocalClickHouse, deployment_reader

    cfg = configured()
    if shards is None and replicas is None:
        server = LocalClickHouse(cfg.var / "clickhouse")
        console.print(server.up(), highlight=False, soft_wrap=True)
        reader_url = server.add_reader(deployment_reader(server.dir, (cfg.database,)))
        console.print(
            f"[dim]CIVICLOOP_CLICKHOUSE_READER_URL={reader_url}[/]", highlight=False, soft_wrap=True
        )
        return
    cluster = LocalCluster(cfg.var / "clickhouse-cluster", cfg.cache)
    try:
        layout = cluster.up(shards or 1, replicas or 1, name)
    except ValueError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    reader_url = cluster.add_reader(deployment_reader(cluster.dir, _cluster_reader_databases(cfg, layout)))
    console.print(f"{layout.entry.url} cluster={layout.name}", highlight=False, soft_wrap=True)
    console.print(
        f"[dim]CIVICLOOP_CLICKHOUSE_URL={layout.entry.url} CIVICLOOP_CLICKHOUSE_CLUSTER={layout.name} "
        f"CIVICLOOP_CLICKHOUSE_READER_URL={reader_url}[/]",
        highlight=False,
        soft_wrap=True,
    )


def _cluster_reader_databases(cfg: config_module.Config, layout: Layout) -> tuple[str, ...]:
    from civicloop.projections.store.cluster import ClusterStore
    from civicloop.projections.tables.cluster import reader_databases

    store = ClusterStore("127.0.0.1", layout.entry.tcp, layout.name)
    try:
        return reader_databases(store, cfg.database)
    finally:
        store.close()


def clickhouse_down() -> None:
    """Stop the server or cluster started by `civicloop clickhouse up`."""
    from civicloop.tools.local.clickhouse_cluster import LocalCluster
    from civicloop.tools.local.clickhouse_server import LocalClickHouse

    cfg = configured()
    stopped = LocalClickHouse(cfg.var / "clickhouse").down()
    stopped = LocalCluster(cfg.var / "clickhouse-cluster", cfg.cache).down() or stopped
    console.print("stopped" if stopped else "was not running")
