"""The operator's side of ``civicloop produce``: progress, summary, bad lines, exit status."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Annotated, TextIO

import typer
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from civicloop import config as config_module
from civicloop import log
from civicloop.streams import kafka
from civicloop.streams.producer import DeliveryError, EventProducer
from civicloop.tools.ingest.jsonl import BadLine, OnProgress, ProduceSummary, produce_file

SHOWN_BAD_LINES = 50
EXIT_BAD_LINES, EXIT_ERROR = 1, 2


def produce(
    file: Annotated[Path, typer.Argument(help="JSON Lines, one event a line; - reads stdin.")],
    rejects: Annotated[
        Path | None,
        typer.Option(help="Also write every bad line to this file (JSON Lines: line, field, reason, text)."),
    ] = None,
) -> None:
    """Validate JSON Lines events and produce them to the case-events topic.

    Exit status: 0 every line produced; 1 some lines were bad (listed and skipped, the rest
    produced); 2 an error to fix first (file unreadable, no Kafka, delivery failed).
    """
    out, err = Console(), Console(stderr=True)
    try:
        summary, topic = _run(file, rejects, err)
    except (OSError, ValueError, RuntimeError, KafkaException) as exc:
        # ValueError: an unusable CIVICLOOP_* variable; RuntimeError: NoKafka, DeliveryError.
        what = "not delivered" if isinstance(exc, DeliveryError) else "error"
        err.print(Text.assemble((f"{what}: ", "red"), str(exc)), soft_wrap=True)  # paths kept whole
        raise typer.Exit(EXIT_ERROR) from None
    except KeyboardInterrupt:
        err.print(
            "[red]interrupted[/]: events not yet flushed are lost; producing the file again is "
            "safe (lines with event_id are deduplicated by the projections)"
        )
        raise typer.Exit(130) from None
    print_summary(out, summary, topic)
    print_bad_lines(out, summary.bad)
    raise typer.Exit(EXIT_BAD_LINES if summary.bad else 0)


def _run(file: Path, rejects: Path | None, err: Console) -> tuple[ProduceSummary, str]:
    stdin = str(file) == "-"
    if not stdin and not file.is_file():  # say so before connecting to anything
        raise FileNotFoundError(f"{file}: no such file (give a JSON Lines file, or - for stdin)")
    log.configure()
    config = config_module.load()
    address = kafka.bootstrap(config)
    _check_reachable(address)  # now, rather than after the whole file was read and queued
    kafka.ensure_topics(config, address)  # a missing topic gets civicloop's partition count
    producer = EventProducer(address, config.events_topic)
    total = None if stdin else file.stat().st_size
    with _opened(rejects) as rejects_out, _progress(err, total) as progress:
        return produce_file(file, producer, progress, rejects_out), config.events_topic


def _check_reachable(address: str, timeout: float = 10.0) -> None:
    # log_level 0: librdkafka would otherwise print a connection failure every 50 ms meanwhile.
    admin = AdminClient({"bootstrap.servers": address, "log_level": 0})
    try:
        admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise ConnectionError(
            f"Kafka at {address} did not answer within {timeout:.0f} s ({exc.args[0].str()}): start "
            "it with `civicloop kafka up`, or fix CIVICLOOP_KAFKA_BOOTSTRAP."
        ) from None


@contextmanager
def _opened(path: Path | None) -> Iterator[TextIO | None]:
    with path.open("w", encoding="utf-8") if path else nullcontext() as stream:
        yield stream


@contextmanager
def _progress(console: Console, total: int | None) -> Iterator[OnProgress]:
    """A bar of bytes read against the file size, with lines read and events/s so far."""
    # Narrow enough for an 80-column terminal, where a wrapped bar would print a line a refresh.
    bar = Progress(
        BarColumn(bar_width=20),
        DownloadColumn(),
        TextColumn("{task.fields[lines]:,} lines"),
        TextColumn("{task.fields[rate]:,.0f} events/s"),
        TimeElapsedColumn(),
        console=console,
    )
    task = bar.add_task("produce", total=total, lines=0, rate=0.0)
    started = time.perf_counter()

    def update(consumed: int, summary: ProduceSummary) -> None:
        rate = summary.produced / max(time.perf_counter() - started, 1e-9)
        bar.update(task, completed=consumed, lines=summary.read, rate=rate)

    with bar:
        yield update


def print_summary(console: Console, summary: ProduceSummary, topic: str) -> None:
    table = Table(title=f"produced to {topic} (delivery confirmed)")
    for column in ("lines read", "produced", "bad", "blank", "elapsed", "events/s"):
        table.add_column(column, justify="right")
    table.add_row(
        f"{summary.read:,}",
        f"{summary.produced:,}",
        f"{len(summary.bad):,}",
        f"{summary.blank:,}",
        f"{summary.elapsed:.2f} s",
        f"{summary.events_per_s:,.0f}",
    )
    console.print(table)


def print_bad_lines(console: Console, bad: list[BadLine]) -> None:
    for line in bad[:SHOWN_BAD_LINES]:
        # Text, not markup: reasons quote the user's data, which may hold [brackets].
        console.print(Text.assemble(("line ", "red"), (str(line.line_no), "bold red"), ": ", line.reason))
    if len(bad) > SHOWN_BAD_LINES:
        console.print(f"… and {len(bad) - SHOWN_BAD_LINES:,} more (--rejects FILE writes them all)")


def register(app: typer.Typer) -> None:
    app.command("produce")(produce)
