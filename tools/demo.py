"""``make demo``: citizen reports through the real broker and worker into ClickHouse.

Starts what is missing (the local broker when none is configured, a worker), produces a few
hundred simulated reports, waits with a deadline until every one is in the event log, prints
reports by category and channel, and stops exactly what it started.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from rich.console import Console
from rich.table import Table

from civicloop import log
from civicloop.config import Config
from civicloop.privacy import KeyStore, seal
from civicloop.projections.reader import open_reader
from civicloop.projections.store import Store
from civicloop.schemas.event import Event
from civicloop.schemas.events import new_event
from civicloop.streams import kafka
from civicloop.streams.producer import EventProducer
from civicloop.tools import stack
from civicloop.tools.kafka_local import LocalKafka
from civicloop.tools.process import wait_until

_log = log.get(__name__)
CATEGORIES = {"road.pothole": "hotline", "sanitation.missed_pickup": "app",
              "lighting.streetlight_out": "web", "noise.construction": "hotline",
              "water.leak": "wechat", "trees.fallen": "grid_inspector"}


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
            "CaseReported", case_id=f"{run}-{i:05d}", source="civicloop-demo",
            actor={"type": "citizen", "id": reporter},
            occurred_at=start + timedelta(seconds=i * 28_800 // count + rng.random()),
            channel=channel, category=category, description=f"demo report {i} ({category})",
            priority=rng.choice(["normal", "normal", "normal", "high", "urgent", "low"]),
            location={"lat": 39.29 + rng.uniform(-0.05, 0.05), "lon": -76.61 + rng.uniform(-0.05, 0.05),
                      "address": None, "grid_id": f"G{rng.randrange(1, 13):02d}",
                      "district": f"D{rng.randrange(1, 5)}"},
            reporter_ref=reporter,
            **_sealed(keys, reporter, f"+1-410-555-{rng.randrange(10**4):04d}"),
        )


def _sealed(keys: KeyStore | None, reporter: str, phone: str) -> dict[str, object]:
    if keys is None:
        return {}
    ciphertext, key_id = seal(keys, reporter, phone)
    return {"contact_ciphertext": ciphertext, "contact_key_id": key_id}


def run(config: Config, count: int = 300, timeout: float = 180.0) -> int:
    console = Console()
    started_kafka = not config.kafka_bootstrap and LocalKafka(config).bootstrap() is None
    started_worker = stack.worker_process(config).pid() is None
    try:
        console.print("[bold]civicloop demo[/]: starting the local stack …")
        stack.up(config)
        run_id = f"demo-{uuid.uuid4().hex[:8]}"
        t0 = time.perf_counter()
        keys = KeyStore(config.keystore)
        try:
            _produce(config, reports(run_id, count, keys=keys))
        finally:
            keys.close()
        console.print(f"produced {count} reports ({run_id}) in {time.perf_counter() - t0:.2f} s")
        rows = _wait_for(config, run_id, count, timeout)
        console.print(f"all {count} reports are in ClickHouse after {time.perf_counter() - t0:.2f} s")
        console.print(_table(rows, config))
        return 0
    finally:
        if started_worker:
            stack.worker_process(config).stop(timeout=60)
        if started_kafka:
            LocalKafka(config).down()


def _produce(config: Config, events: Iterator[Event]) -> None:
    with EventProducer(kafka.bootstrap(config), config.events_topic) as producer:
        for event in events:
            producer.send(event)


def _wait_for(config: Config, run_id: str, count: int, timeout: float) -> list[tuple[str, str, int]]:
    reader = open_reader(config)
    base = (f"FROM {config.database}.event_log FINAL "
            f"WHERE case_id LIKE '{run_id}-%' AND type = 'CaseReported'")

    def arrived() -> bool:
        return int(reader.query(f"SELECT count() {base}")[0][0]) >= count

    wait_until(arrived, timeout, f"{count} reports in the event log", interval=0.5)
    return _by_category_channel(reader, config, run_id)


def _by_category_channel(reader: Store, config: Config, run_id: str) -> list[tuple[str, str, int]]:
    from civicloop.schemas.codec import decode

    payloads = reader.query(
        f"SELECT hex(payload) FROM {config.database}.event_log FINAL "
        f"WHERE case_id LIKE '{run_id}-%' AND type = 'CaseReported'"
    )
    counts: dict[tuple[str, str], int] = {}
    for (hex_payload,) in payloads:
        event = decode(bytes.fromhex(hex_payload))
        key = (event["category"], event["channel"])
        counts[key] = counts.get(key, 0) + 1
    return sorted(((c, ch, n) for (c, ch), n in counts.items()), key=lambda r: (-r[2], r[0]))


def _table(rows: list[tuple[str, str, int]], config: Config) -> Table:
    table = Table(title=f"reports by category and channel ({config.database}.event_log)")
    table.add_column("category")
    table.add_column("channel")
    table.add_column("reports", justify="right")
    for category, channel, n in rows:
        table.add_row(category, channel, str(n))
    table.add_row("[bold]total[/]", "", f"[bold]{sum(r[2] for r in rows)}[/]")
    return table
