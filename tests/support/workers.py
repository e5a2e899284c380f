"""Running the real worker as a child process for integration tests."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaException, TopicPartition

from civicloop.config import Config, to_env
from civicloop.projections.backend import open_reader
from civicloop.projections.store.base import Store
from civicloop.schemas.event import Event
from civicloop.streams import kafka
from civicloop.streams.producer import EventProducer
from civicloop.tools import feed
from civicloop.tools.local import stack
from civicloop.tools.local.process import wait_until
from tests.conftest import make_config


@dataclass
class Worker:
    """``civicloop worker`` in the background for one test's namespace; ``index`` tells
    several workers of one deployment (one consumer group) apart."""

    config: Config
    index: int = 0

    def start(self) -> Worker:
        kafka.ensure_topics(self.config)
        stack.start_worker(self.config, index=self.index)
        return self

    def stop(self) -> None:
        stack.worker_process(self.config, self.index).stop(timeout=60)

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no final commit."""
        stack.worker_process(self.config, self.index).kill()

    def reader(self) -> Store:
        return open_reader(self.config)

    def log_tail(self) -> str:
        return stack.worker_process(self.config, self.index).log_tail(60)


def produce(config: Config, events: Iterable[Event]) -> dict[int, int]:
    """Send ``events`` and confirm delivery; return the last offset written per partition."""
    with EventProducer(config.kafka_bootstrap, config.events_topic) as producer:
        for event in events:
            producer.send(event)
    return dict(producer.high_offsets)


def wait_projected(config: Config, offsets: dict[int, int], timeout: float) -> None:
    """Until every batch up to ``offsets`` (partition → last offset) is fully written: the
    lifecycle, task and state tables too, not only the event log that is written first."""
    feed.wait_projected(config, feed.Sent(high_offsets=offsets), timeout)


def wait_for_value(read: Callable[[], int], expected: int, timeout: float, what: str) -> int:
    """Poll ``read`` until it returns ``expected``; return the last value seen."""
    seen: list[int] = []

    def done() -> bool:
        seen.append(read())
        return seen[-1] >= expected

    try:
        wait_until(done, timeout, what, interval=0.5)
    except TimeoutError:
        raise AssertionError(f"{what}: expected {expected}, last saw {seen[-1:]}") from None
    return seen[-1]


def coordinator_ready(config: Config, group: str) -> None:
    """On a broker that just started, the group coordinator takes a moment to be elected."""
    consumer = Consumer({"bootstrap.servers": config.kafka_bootstrap, "group.id": group})

    def answers() -> bool:
        try:
            consumer.committed([TopicPartition(config.events_topic, 0)], timeout=10)
        except KafkaException:
            return False
        return True

    try:
        wait_until(answers, 60, "the group coordinator")
    finally:
        consumer.close()


def deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **overrides: Any) -> Config:
    """A fresh namespace on the session's broker, exported to the environment so that CLI
    commands run in-process (CliRunner) see the same deployment as the worker."""
    config = make_config(tmp_path, **overrides)
    for name, value in to_env(config).items():
        monkeypatch.setenv(name, value)
    return config
