"""``civicloop bench``: throughput figures against a raw ceiling measured in the same run.

Benchmarks report numbers and ratios; they never pass or fail on a threshold, because the
figures depend on the machine (which they print) more than on the code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from civicloop.tools.bench.stores import Backend

if TYPE_CHECKING:
    from civicloop.config import Config
    from civicloop.tools.bench.report import Result

Rounds = Annotated[int, typer.Option(min=1, help="Each figure is the fastest of this many runs.")]
Events = Annotated[int, typer.Option("--events", "-n", min=1, help="How many events to time.")]
AsJson = Annotated[bool, typer.Option("--json", help="One JSON object (for recording) instead of tables.")]
StoreKind = Annotated[
    Backend,
    typer.Option(
        "--store",
        help="chdb: a fresh chDB directory in a temp "
        "dir; server: CIVICLOOP_CLICKHOUSE_URL when it is a "
        "clickhouse:// URL, else a clickhouse-server started "
        "for the run.",
    ),
]


def register(app: typer.Typer) -> None:
    """Add the ``civicloop bench`` sub-app (``codec``, ``produce``, ``replay``, ``live``,
    ``queries``, ``api``) to ``app``."""
    bench = typer.Typer(
        help="Throughput against a raw ceiling measured in the same run.", no_args_is_help=True
    )
    bench.command("codec")(codec_command)
    bench.command("produce")(produce_command)
    bench.command("replay")(replay_command)
    bench.command("live")(live_command)
    bench.command("queries")(queries_command)
    bench.command("api")(api_command)
    app.add_typer(bench, name="bench")


def codec_command(events: Events = 200_000, rounds: Rounds = 5, as_json: AsJson = False) -> None:
    """civicloop encode/decode vs bare fastavro schemaless_writer/reader, same events."""
    from civicloop.tools.bench.codec import run
    from civicloop.tools.bench.report import show

    show(run(events, rounds), as_json)


def produce_command(events: Events = 200_000, rounds: Rounds = 3, as_json: AsJson = False) -> None:
    """civicloop new_event + encode + send vs bare confluent-kafka, on the configured Kafka."""
    from confluent_kafka import KafkaException
    from rich.console import Console

    from civicloop import config as config_module
    from civicloop import log
    from civicloop.streams.kafka import NoKafka
    from civicloop.tools.bench.produce import run
    from civicloop.tools.bench.report import show

    log.configure()
    try:
        result = run(config_module.load(), events, rounds)
    except (NoKafka, ValueError, KafkaException) as exc:  # ValueError: a bad CIVICLOOP_* variable
        Console(stderr=True).print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    show(result, as_json)


def replay_command(
    events: Events = 1_000_000, store: StoreKind = Backend.chdb, as_json: AsJson = False
) -> None:
    """Replayer.run (rebuild every projection) vs bare consume + decode, same N events."""
    from civicloop.tools.bench.replay import run

    _on_kafka(lambda config: run(config, events, store), as_json)


def live_command(
    events: Annotated[
        int, typer.Option("--events", "-n", min=1, help="Events for the throughput figure.")
    ] = 200_000,
    rate: Annotated[int, typer.Option(min=1, help="Events/s produced for the latency figure.")] = 5_000,
    seconds: Annotated[float, typer.Option(min=1, help="How long to hold --rate.")] = 30.0,
    as_json: AsJson = False,
) -> None:
    """A real worker: throughput (vs bare consume + decode) and event-to-projection latency."""
    from civicloop.tools.bench.live import run

    _on_kafka(lambda config: run(config, events, rate, seconds), as_json)


def queries_command(
    cases: Annotated[int, typer.Option(min=1, help="Cases in the synthetic projections.")] = 1_000_000,
    store: StoreKind = Backend.chdb,
    rounds: Rounds = 3,
    as_json: AsJson = False,
) -> None:
    """Every closed-loop query over synthetic projections vs reading the table at all."""
    from civicloop import log
    from civicloop.tools.bench.queries import run
    from civicloop.tools.bench.report import show

    log.configure()
    show(run(cases, store, rounds), as_json)


def api_command(
    seconds: Annotated[int, typer.Option(min=1, help="How long wrk holds the load.")] = 15,
    concurrency: Annotated[int, typer.Option(min=1, help="Open connections (requests in flight).")] = 32,
    threads: Annotated[int, typer.Option(min=1, help="wrk threads.")] = 2,
    events: Annotated[
        int, typer.Option("--events", "-n", min=1, help="Events for the SDK ceiling.")
    ] = 20_000,
    as_json: AsJson = False,
) -> None:
    """Open311 POSTs over HTTP (a real API process, loaded by wrk) vs the SDK producer."""
    from civicloop.tools.bench.api import run

    _on_kafka(lambda config: run(config, seconds, concurrency, threads, events), as_json)


def _on_kafka(bench: Callable[[Config], Result], as_json: bool) -> None:
    from confluent_kafka import KafkaException
    from rich.console import Console

    from civicloop import config as config_module
    from civicloop import log
    from civicloop.streams.kafka import NoKafka
    from civicloop.tools.bench.report import show

    log.configure()
    try:
        result = bench(config_module.load())
    except (NoKafka, ValueError, KafkaException) as exc:  # ValueError: a bad CIVICLOOP_* variable
        Console(stderr=True).print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    show(result, as_json)
