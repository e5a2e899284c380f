"""``make demo``: citizen reports through the real broker and worker into ClickHouse.

Starts what is missing (the local broker when none is configured, a worker, the API),
produces a few hundred citizen reports (contacts sealed under per-reporter keys), waits with a
deadline until every one is in ClickHouse and prints them by category and channel; posts a few
reports over HTTP with Open311 GeoReport v2 and reads them back; then runs two weeks of a
simulated city through the whole loop and prints the closed-loop metrics by department. Stops
exactly what it started.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console
from rich.table import Table

from civicloop import log
from civicloop.config import Config
from civicloop.privacy import KeyStore, seal
from civicloop.projections.backend import open_reader
from civicloop.projections.metrics.closed_loop import metrics
from civicloop.projections.read_model import cases
from civicloop.schemas.event import Event
from civicloop.schemas.events import new_event
from civicloop.tools import demo_open311, feed
from civicloop.tools.local import api_server, stack
from civicloop.tools.local.kafka_broker import LocalKafka
from civicloop.tools.local.process import wait_until
from civicloop.tools.output import print_table
from civicloop.tools.simulate import SimConfig, simulate

_log = log.get(__name__)
CATEGORIES = {
    "road.pothole": "hotline",
    "sanitation.missed_pickup": "app",
    "lighting.streetlight_out": "web",
    "noise.construction": "hotline",
    "water.leak": "wechat",
    "trees.fallen": "grid_inspector",
}


def reports(run: str, count: int, seed: int = 7, keys: KeyStore | None = None) -> Iterator[Event]:
    """``count`` plausible CaseReported events, case ids prefixed with ``run``; with ``keys``,
    each carries a (made-up) phone number sealed under its reporter's key."""
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(hours=8)
    for i in range(count):
        category = rng.choice(list(CATEGORIES))
        reporter = f"r-{rng.randrange(10**6):06d}"
        channel = CATEGORIES[category] if rng.random() < 0.7 else rng.choice(["app", "web", "email"])
        yield new_event(
            "CaseReported",
            case_id=f"{run}-{i:05d}",
            source="civicloop-demo",
            actor={"type": "citizen", "id": reporter},
            occurred_at=start + timedelta(seconds=i * 28_800 // count + rng.random()),
            channel=channel,
            category=category,
            description=f"demo report {i} ({category})",
            priority=rng.choice(["normal", "normal", "normal", "high", "urgent", "low"]),
            # in the demo city's Old Town: the SDK gives it its district and grid cell
            location={"lat": 31.29 + rng.uniform(-0.025, 0.025), "lon": 121.43 + rng.uniform(-0.025, 0.025)},
            reporter_ref=reporter,
            **_sealed(keys, reporter, f"+1-410-555-{rng.randrange(10**4):04d}"),
        )


def _sealed(keys: KeyStore | None, reporter: str, phone: str) -> dict[str, Any]:
    if keys is None:
        return {}
    ciphertext, key_id = seal(keys, reporter, phone)
    return {"contact_ciphertext": ciphertext, "contact_key_id": key_id}


def run(config: Config, count: int = 300, days: int = 14, timeout: float = 180.0) -> int:
    console = Console()
    started_kafka = not config.kafka_bootstrap and LocalKafka(config).bootstrap() is None
    started_worker = stack.worker_process(config).pid() is None
    started_notifier = stack.notifier_process(config).pid() is None
    started_api = api_server.api_process(config).pid() is None
    try:
        console.print("[bold]civicloop demo[/]: starting the local stack …")
        stack.up(config)
        run_id = f"demo-{uuid.uuid4().hex[:8]}"
        keys = KeyStore(config.keystore)
        try:
            feed.send(config, reports(run_id, count, keys=keys), f"{count} citizen reports", count)
        finally:
            keys.close()
        console.print(_reports_table(config, run_id, count, timeout))
        console.print(demo_open311.run(config, timeout))
        city = simulate(
            days,
            300,
            seed=int(time.time()),
            start=datetime.now(UTC) - timedelta(days=days),
            config=SimConfig(case_prefix=f"{run_id}-city-"),
        )
        sent = feed.send(config, city, f"{days} days of a simulated city")
        feed.wait_projected(config, sent, timeout)
        rows = metrics(
            open_reader(config).query,
            config.database,
            "department",
            t_from=datetime.now(UTC) - timedelta(days=days),
        )
        print_table(console, rows, f"metrics by department, last {days} days ({config.database})")
        return 0
    finally:
        if started_api:
            api_server.api_process(config).stop(timeout=30)
        if started_notifier:
            stack.notifier_process(config).stop(timeout=30)
        if started_worker:
            stack.worker_process(config).stop(timeout=60)
        if started_kafka:
            LocalKafka(config).down()


def _reports_table(config: Config, run_id: str, count: int, timeout: float) -> Table:
    reader = open_reader(config)
    like = f"{run_id}-%"
    wait_until(
        lambda: sum(n for *_, n in cases.reports_counted(reader.query, config.database, like)) >= count,
        timeout,
        f"{count} reports in ClickHouse",
        interval=0.5,
    )
    table = Table(title=f"reports by category and channel ({config.database}.case_lifecycle)")
    for name, justify in (("category", "left"), ("channel", "left"), ("reports", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    rows = cases.reports_counted(reader.query, config.database, like)
    for category, channel, n in rows:
        table.add_row(category, channel, str(n))
    table.add_row("[bold]total[/]", "", f"[bold]{sum(n for *_, n in rows)}[/]")
    return table
