"""Feeding events to Kafka from operator tools, and waiting until the projections have them."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from civicloop.config import Config
from civicloop.projections.backend import open_reader
from civicloop.projections.read_model.progress import projected_offsets, remaining
from civicloop.schemas.event import Event
from civicloop.streams import kafka
from civicloop.streams.producer import DeliveryError, EventProducer


@dataclass
class Sent:
    events: int = 0
    seconds: float = 0.0
    high_offsets: dict[int, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def progress(transient: bool = False) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        transient=transient,
    )


class SendStopped(RuntimeError):
    """Producing stopped part-way (Kafka refused or lost sends, or the user interrupted):
    ``confirmed`` events were acknowledged by Kafka before that."""

    def __init__(self, confirmed: int, cause: BaseException) -> None:
        reason = "interrupted" if isinstance(cause, KeyboardInterrupt) else str(cause) or repr(cause)
        super().__init__(f"{confirmed} event(s) confirmed by Kafka before it stopped ({reason})")
        self.confirmed = confirmed


def send(config: Config, events: Iterable[Event], what: str, total: int | None = None) -> Sent:
    """Produce ``events`` (idempotent, keyed by case) with a progress bar; confirm delivery.
    Raises SendStopped saying how many were confirmed when producing stops part-way."""
    address = kafka.bootstrap(config)
    kafka.ensure_topics(config, address)
    started = time.perf_counter()
    producer = EventProducer(address, config.events_topic)
    try:
        with progress() as bar:
            task = bar.add_task(what, total=total, rate="")
            for n, event in enumerate(events, 1):
                producer.send(event)
                if n % 2000 == 0:
                    bar.update(task, completed=n, rate=f"{n / (time.perf_counter() - started):,.0f} ev/s")
            producer.flush()
            bar.update(task, completed=producer.delivered, total=producer.delivered)
    except (Exception, KeyboardInterrupt) as exc:
        # Count what Kafka did confirm, so the caller can say exactly what was produced.
        try:
            producer.flush(10)
        except DeliveryError:
            pass
        raise SendStopped(producer.delivered, exc) from None
    return Sent(producer.delivered, time.perf_counter() - started, dict(producer.high_offsets))


def wait_projected(config: Config, sent: Sent, timeout: float = 600.0) -> None:
    """Return once every message ``sent`` produced is in ClickHouse (a worker must run)."""
    reader = open_reader(config)
    total = sum(offset + 1 for offset in sent.high_offsets.values())
    deadline = time.monotonic() + timeout
    with progress() as bar:
        task = bar.add_task("waiting for the projections", total=total, rate="")
        while True:
            left = remaining(
                sent.high_offsets, projected_offsets(reader.query, config.database, config.events_topic)
            )
            bar.update(task, completed=total - left)
            if left == 0:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{left} message(s) still not projected after {timeout:.0f} s: is a worker "
                    "running (`civicloop status`, `civicloop up`)?"
                )
            time.sleep(0.5)
