"""A running deployment for the API tests: real broker, worker and ``civicloop api`` process.

The API is reached over HTTP on its loopback port, exactly as a client would; Kafka and
ClickHouse are read directly (never through the code under test) to check what it did.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import Consumer, TopicPartition

from civicloop.api.keys import ApiKeyStore
from civicloop.config import Config
from civicloop.projections.backend import open_reader
from civicloop.projections.store.base import Reader
from civicloop.tools.local.api_server import api_process, api_url, start_api
from civicloop.tools.local.process import free_port
from tests.support.workers import Worker, wait_projected


@dataclass
class Site:
    config: Config
    worker: Worker
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return api_url(self.config)

    def start(self) -> Site:
        self.worker.start()
        start_api(self.config)
        return self

    def stop(self) -> None:
        # teardown: SIGKILL; stopping gracefully is test_stack_api's (the API) and test_shutdown's
        api_process(self.config).kill()
        self.worker.kill()

    def restart_api(self, workers: int | None = None) -> None:
        """Restart ``civicloop api`` (with ``workers`` processes when given)."""
        api_process(self.config).stop(timeout=30)
        if workers is not None:
            self.config = replace(self.config, api_workers=workers)
        start_api(self.config)

    @contextmanager
    def another_api(self, home: Path, **overrides: Any) -> Iterator[str]:
        """A second ``civicloop api`` process of this deployment, with ``overrides``: its own
        home (pid file, log) and port; the same keys, broker and projections. Yields its URL."""
        config = dataclasses.replace(
            self.config, home=home, api_port=free_port(), api_keys_file=self.config.api_keys, **overrides
        )
        config.var.mkdir(parents=True, exist_ok=True)
        if self.config.worker_token_file.exists():  # with chDB the API reads through the worker
            shutil.copy(self.config.worker_token_file, config.worker_token_file)
        start_api(config)
        try:
            yield api_url(config)
        finally:
            api_process(config).stop(timeout=30)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60)

    def key(self, role: str) -> str:
        """A key for ``role`` (``department:NAME`` for departments), made once per site."""
        if role not in self.keys:
            store = ApiKeyStore(self.config.api_keys)
            try:
                _, self.keys[role] = store.create(role, label=f"test {role}")
            finally:
                store.close()
        return self.keys[role]

    def reader(self) -> Reader:
        return open_reader(self.config)

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        reader = self.reader()
        try:
            return reader.query(sql.replace("{db}", self.config.database), params)
        finally:
            reader.close()

    def topic_ends(self, topic: str | None = None) -> dict[int, int]:
        """Per partition, the offset the next message will get (the high watermark)."""
        with _consumer(self.config) as consumer:
            name = topic or self.config.events_topic
            partitions = consumer.list_topics(name, timeout=15).topics[name].partitions
            return {
                p: consumer.get_watermark_offsets(TopicPartition(name, p), timeout=15)[1] for p in partitions
            }

    def messages(self, topic: str | None = None) -> list[bytes]:
        """Every message value in the topic, read straight from Kafka."""
        name = topic or self.config.events_topic
        ends = self.topic_ends(name)
        wanted = sum(ends.values())
        values: list[bytes] = []
        with _consumer(self.config) as consumer:
            consumer.assign([TopicPartition(name, p, 0) for p, end in ends.items() if end > 0])
            deadline = time.monotonic() + 60
            while len(values) < wanted and time.monotonic() < deadline:
                for message in consumer.consume(1000, timeout=1):
                    if message.error() is None:
                        values.append(message.value() or b"")
        assert len(values) == wanted, f"read {len(values)} of {wanted} messages"
        return values

    def settle(self, timeout: float = 90) -> None:
        """Wait until the worker has projected everything in the topic so far."""
        ends = {p: end - 1 for p, end in self.topic_ends().items() if end > 0}
        wait_projected(self.config, ends, timeout)


@contextmanager
def _consumer(config: Config) -> Iterator[Consumer]:
    consumer = Consumer(
        {"bootstrap.servers": config.kafka_bootstrap, "group.id": "api-tests", "enable.auto.commit": False}
    )
    try:
        yield consumer
    finally:
        consumer.close()


def poll(read: Callable[[], Any], done: Callable[[Any], bool], what: str, timeout: float = 90) -> Any:
    """``read()`` until ``done(value)``; the last value, or an AssertionError naming ``what``."""
    deadline = time.monotonic() + timeout
    value = read()
    while not done(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: last saw {value!r}")
        time.sleep(0.3)
        value = read()
    return value
