"""``civicloop bench``: throughput figures against a raw ceiling measured in the same run.

Benchmarks report numbers and ratios; they never pass or fail on a threshold, because the
figures depend on the machine (which they print) more than on the code.
"""

from __future__ import annotations

from typing import Annotated

import typer

Rounds = Annotated[int, typer.Option(min=1, help="Each figure is the fastest of this many runs.")]
Events = Annotated[int, typer.Option("--events", "-n", min=1, help="How many events to time.")]
AsJson = Annotated[bool, typer.Option("--json", help="One JSON object (for recording) instead of tables.")]


def register(app: typer.Typer) -> None:
    """Add the ``civicloop bench`` sub-app (``codec``, ``produce``) to ``app``."""
    bench = typer.Typer(help="Throughput against a raw ceiling measured in the same run.",
                        no_args_is_help=True)
    bench.command("codec")(codec_command)
    bench.command("produce")(produce_command)
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
