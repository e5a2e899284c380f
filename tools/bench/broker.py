"""The broker side of the end-to-end benchmarks: a throwaway namespace and a bare producer.

Each run gets its own namespace (topics, consumer groups, database), so a benchmark never
reads or disturbs a deployment's data; the topics and groups are deleted afterwards.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient

from civicloop.config import Config
from civicloop.streams import kafka, settings
from civicloop.tools.local.process import free_port

KeyValue = tuple[bytes, bytes]


def throwaway(config: Config, home: Path) -> Config:
    """``config`` on the same broker with a namespace, home, chDB directory, key stores and
    worker and API ports of its own (nothing of the deployment's is touched), and the SLA
    watchdog off (it would add escalation events to the measured stream)."""
    return replace(
        config,
        kafka_bootstrap=kafka.bootstrap(config),
        namespace=f"bench{uuid.uuid4().hex[:8]}",
        home=home,
        clickhouse_url=f"chdb://{home / 'chdb'}",
        worker_web_port=free_port(),
        api_port=free_port(),
        keystore=home / "var" / "keys.sqlite",
        api_keys_file=home / "var" / "api" / "keys.sqlite",
        watchdog_interval=0.0,
    )


@contextmanager
def topics(config: Config) -> Iterator[None]:
    """The namespace's topics for the duration; they and its consumer groups go afterwards."""
    kafka.ensure_topics(config, config.kafka_bootstrap)
    try:
        yield
    finally:
        admin = AdminClient({"bootstrap.servers": config.kafka_bootstrap})
        groups = [
            g.group_id
            for g in admin.list_consumer_groups(request_timeout=30).result().valid
            if g.group_id.startswith(f"{config.namespace}-")
        ]
        if groups:
            _wait_all(admin.delete_consumer_groups(groups, request_timeout=30))
        existing = admin.list_topics(timeout=15).topics
        owned = [topic.topic for topic in kafka.topics(config) if topic.topic in existing]
        if owned:
            _wait_all(admin.delete_topics(owned))


def _wait_all(futures: Mapping[str, Future[Any]]) -> None:
    for future in futures.values():
        try:
            future.result()
        except KafkaException as exc:  # already gone is fine; anything else is worth a look
            if exc.args[0].code() not in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError.GROUP_ID_NOT_FOUND):
                raise


def queue(
    producer: Producer,
    topic: str,
    messages: Iterable[KeyValue],
    on_delivery: Callable[[KafkaError | None, Message], None],
    wait_s: float = 0.05,
) -> None:
    """Queue each of ``messages`` on ``producer``; while its local queue is full, serve
    delivery reports (up to ``wait_s`` at a time) to make room."""
    produce = producer.produce
    for key, value in messages:
        while True:
            try:
                produce(topic, value, key, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(wait_s)


@dataclass
class Sender:
    """A bare confluent-kafka producer (EventProducer's settings) for pre-encoded messages.

    ``on_delivered`` sees every acknowledged message (its partition, offset and CreateTime
    timestamp); ``high_offsets`` keeps the last acknowledged offset of each partition.
    """

    address: str
    topic: str
    on_delivered: Callable[[Message], None] | None = None
    delivered: int = 0
    high_offsets: dict[int, int] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._producer = Producer({"bootstrap.servers": self.address, **settings.PRODUCER})

    def _done(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self.failed.append(str(err))
            return
        self.delivered += 1
        partition, offset = msg.partition() or 0, msg.offset() or 0
        if offset > self.high_offsets.get(partition, -1):
            self.high_offsets[partition] = offset
        if self.on_delivered is not None:
            self.on_delivered(msg)

    def send(self, messages: Sequence[KeyValue]) -> None:
        """Queue ``messages``; serve delivery reports as they come (never blocks for long)."""
        queue(self._producer, self.topic, messages, self._done)
        self._producer.poll(0)

    def flush(self, timeout: float = 300.0) -> None:
        self._producer.flush(timeout)
        if self.failed or len(self._producer):
            raise RuntimeError(
                f"bench producer: {len(self.failed)} failed ({self.failed[:3]}), "
                f"{len(self._producer)} still queued"
            )


def send_all(
    sender: Sender, messages: Sequence[KeyValue], advance: Callable[[int], None], chunk: int = 10_000
) -> float:
    """Send and flush ``messages`` in chunks, reporting progress; return the seconds taken."""
    started = time.perf_counter()
    for start in range(0, len(messages), chunk):
        part = messages[start : start + chunk]
        sender.send(part)
        advance(len(part))
    sender.flush()
    return time.perf_counter() - started
