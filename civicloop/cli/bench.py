"""``civicloop bench``: throughput figures against a raw ceiling measured in the same run.

Benchmarks report numbers and ratios; they never pass or fail on a threshold, because the
figures depend on the machine (which they print) more than on the code.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from civicloop.tools.bench.stores import Backend

if TYPE_CHECKING:
    from civicloop.config import Config
    from civicloop.tools.bench.report import Result

Rounds = Annotated[int, typer.Option(min=1, help="Each figure is the fastest of this many runs.")]
Events = Annotated[int, typer.Option("--events", "-n", min=1, help="How many events to time.")]
AsJson = Annotated[bool, typer.Option("--json", help="One JSON object (for recording) instead of tables.")]
Years = Annotated[
    int,
    typer.Option(min=1, max=50, help="Years the cases are reported over (a decade: 10), ending 2026-01-01."),
]
Merged = Annotated[
    bool,
    typer.Option(
        help="Merge each month's parts first (OPTIMIZE … FINAL), as background merges leave the "
        "months no longer written; default: time the parts as inserted (one server, not a cluster)."
    ),
]
Cases = Annotated[int, typer.Option(min=1, help="Cases in the synthetic projections.")]
Keep = Annotated[
    Path | None,
    typer.Option(
        help="chDB only: build the synthetic projections in this directory and keep them; a later "
        "run with the same --cases, --years and --merged reuses them instead of generating again."
    ),
]
StoreKind = Annotated[
    Backend,
    typer.Option(
        "--store",
        help="chdb: a fresh chDB directory in a temp "
        "dir; server: CIVICLOOP_CLICKHOUSE_URL when it is a "
        "clickhouse:// URL, else a clickhouse-server started "
        "for the run; cluster: CIVICLOOP_CLICKHOUSE_CLUSTER "
        "when set, else a local 2-shard × 2-replica cluster "
        "started for the run (on the same machine: the "
        "figures are its overhead).",
    ),
]


def register(app: typer.Typer) -> None:
    """Add the ``civicloop bench`` sub-app (``codec``, ``produce``, ``replay``, ``live``,
    ``queries``, ``signals``, ``dashboard``, ``console``, ``chaos``, ``api``) to ``app``."""
    bench = typer.Typer(
        help="Throughput against a raw ceiling measured in the same run.", no_args_is_help=True
    )
    bench.command("codec")(codec_command)
    bench.command("produce")(produce_command)
    bench.command("replay")(replay_command)
    bench.command("live")(live_command)
    bench.command("queries")(queries_command)
    bench.command("signals")(signals_command)
    bench.command("dashboard")(dashboard_command)
    bench.command("console")(console_command)
    bench.command("chaos")(chaos_command)
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
        Console(stderr=True).print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
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


def _synthetic_reads(name: str, doc: str) -> Callable[..., None]:
    """The command timing ``civicloop.tools.bench.<name>``'s reads over synthetic projections
    (imported when it runs: the worker's start never loads a bench)."""

    def command(
        cases: Cases = 1_000_000,
        store: StoreKind = Backend.chdb,
        rounds: Rounds = 3,
        merged: Merged = False,
        years: Years = 1,
        keep: Keep = None,
        as_json: AsJson = False,
    ) -> None:
        from civicloop import log
        from civicloop.tools.bench.report import show

        run: Callable[[int, Backend, int, bool, int, Path | None], Result] = import_module(
            f"civicloop.tools.bench.{name}"
        ).run
        log.configure()
        show(run(cases, store, rounds, merged, years, keep), as_json)

    command.__name__ = command.__qualname__ = f"{name}_command"
    command.__doc__ = doc
    return command


dashboard_command = _synthetic_reads(
    "dashboard", "The dashboard's page and JSON figures over HTTP vs the store answering the metrics."
)
queries_command = _synthetic_reads(
    "queries", "Every closed-loop query over synthetic projections vs reading the table at all."
)


def console_command(
    cases: Cases = 1_000_000,
    store: StoreKind = Backend.chdb,
    rounds: Rounds = 3,
    as_json: AsJson = False,
) -> None:
    """The console's first useful paint (department inbox, search) over HTTP vs the store."""
    from civicloop import log
    from civicloop.tools.bench.console import run
    from civicloop.tools.bench.report import show

    log.configure()
    show(run(cases, store, rounds), as_json)


def chaos_command(
    workers: Annotated[int, typer.Option(min=1, help="Supervised workers in one consumer group.")] = 3,
    partitions: Annotated[int, typer.Option(min=1, help="Partitions of the case-events topic.")] = 6,
    events: Annotated[int, typer.Option("--events", "-n", min=1, help="Events produced, exactly.")] = 60_000,
    rate: Annotated[
        int, typer.Option(min=1, help="Events/s produced (events / rate should span the actions).")
    ] = 600,
    kills: Annotated[int, typer.Option(min=0, help="kill -9 of a random worker.")] = 6,
    broker_restarts: Annotated[
        int, typer.Option(min=0, help="Broker restarts, alternately graceful and kill -9.")
    ] = 2,
    seed: Annotated[int, typer.Option(help="Seeds the city and the order and targets of the chaos.")] = 7,
    static: Annotated[
        bool, typer.Option(help="Static group membership (each worker keeps a name) or dynamic.")
    ] = False,
    keep: Annotated[
        bool, typer.Option(help="Keep both databases on the configured server, for a check of your own.")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Kill workers and restart the broker while a city drains; compare every table (signals
    included) and metric with a clean single-worker run; print recovery time per kill and every
    difference."""
    from civicloop import config as config_module
    from civicloop import log
    from civicloop.tools.bench.chaos import run
    from civicloop.tools.bench.chaos_report import Plan, show

    log.configure()
    plan = Plan(workers, partitions, events, rate, kills, broker_restarts, seed, static, keep=keep)
    report = run(config_module.load(), plan)
    show(report, as_json)
    if report.differences:
        raise typer.Exit(1)


def api_command(
    seconds: Annotated[int, typer.Option(min=1, help="How long wrk holds the load.")] = 15,
    concurrency: Annotated[int, typer.Option(min=1, help="Open connections (requests in flight).")] = 32,
    threads: Annotated[int, typer.Option(min=1, help="wrk threads.")] = 2,
    events: Annotated[
        int, typer.Option("--events", "-n", min=1, help="Events for the SDK ceiling.")
    ] = 20_000,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="API processes of the second run (default: CIVICLOOP_API_WORKERS, one per core).",
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Open311 POSTs over HTTP (a real API, 1 and N processes, loaded by wrk) vs the SDK producer."""
    from civicloop.tools.bench.api import run

    _on_kafka(lambda config: run(config, seconds, concurrency, threads, events, workers), as_json)


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
        Console(stderr=True).print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    show(result, as_json)


def signals_command(
    days: Annotated[int, typer.Option(min=42, help="Length of the simulated year.")] = 365,
    cases_per_day: Annotated[float, typer.Option(help="Mean reports per day in the simulated city.")] = 400.0,
    per_size: Annotated[
        int, typer.Option(min=1, help="Injected one-day surges per multiplier (2x, 3x, 5x).")
    ] = 20,
    seed: Annotated[int, typer.Option(help="Same seed, same city and surges.")] = 1,
    as_json: AsJson = False,
) -> None:
    """Surge detection (sensitivity, false alarms per cell-year, time to detection) on a
    simulated year with injected surges; duplicate-suggestion recall on the Baltimore sample."""
    import json

    from rich.console import Console

    from civicloop import log
    from civicloop.tools.bench import signals
    from civicloop.tools.output import print_table

    log.configure(level="warning")
    result = {"surges": signals.surges(days, cases_per_day, per_size, seed, ("hour", "day"))}
    sample = Path(__file__).resolve().parents[2] / "tests" / "data" / "baltimore" / "baltimore_311_sample.csv"
    if sample.exists():
        result["duplicates"] = signals.duplicates(sample)
    if as_json:
        print(json.dumps(result, indent=1, default=str))
        return
    console = Console()
    surge = result["surges"]
    for window, figures in surge["by_window"].items():
        print_table(console, figures["by_multiplier"], f"surges, {window} windows")
        console.print(
            f"{window} windows: {figures['false_alarms']} false alarms = "
            f"{figures['false_alarms_per_cell_year']} per cell-year (district cells)"
        )
    console.print({k: v for k, v in surge.items() if k != "by_window"})
    if "duplicates" in result:
        console.print("duplicate suggestions (Baltimore sample):", result["duplicates"])
