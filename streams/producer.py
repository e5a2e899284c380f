"""The producer SDK's sending half: validated events, encoded, keyed by case, delivery confirmed.

An idempotent confluent-kafka producer (``enable.idempotence``, ``acks=all``) keyed by
``case_id`` keeps each case's events in order in one partition and never duplicates a retried
send. ``send`` is asynchronous (delivery reported through ``flush``); ``send_sync`` waits.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from civicloop.schemas.codec import encode
from civicloop.schemas.event import Event
from civicloop.streams import settings


def partition_of(case_id: str, partitions: int) -> int:
    """The partition a case's events go to: librdkafka's default partitioner
    (``consistent_random``: ``crc32(key) % partitions`` for a keyed message), which this
    producer keeps."""
    return zlib.crc32(case_id.encode()) % partitions


class DeliveryError(RuntimeError):
    """Kafka did not confirm one or more sends; ``failures`` lists (key, error) pairs."""

    def __init__(self, failures: list[tuple[str, str]]) -> None:
        shown = "; ".join(f"{key}: {err}" for key, err in failures[:5])
        super().__init__(f"{len(failures)} event(s) were not delivered: {shown}")
        self.failures = failures


@dataclass(frozen=True)
class Delivered:
    topic: str
    partition: int
    offset: int


class EventProducer:
    """Sends events to one topic; use as a context manager to flush on exit."""

    def __init__(self, bootstrap: str, topic: str, **overrides: Any) -> None:
        self.topic = topic
        self._failures: list[tuple[str, str]] = []
        self.delivered = 0
        # The last offset confirmed per partition: what `wait_projected` waits for.
        self.high_offsets: dict[int, int] = {}
        self._producer = Producer({"bootstrap.servers": bootstrap, **settings.PRODUCER, **overrides})

    def send(self, event: Event) -> None:
        """Queue ``event``; its delivery is confirmed (or raised) by :meth:`flush`."""
        self.send_raw(event.case_id, encode(event))

    def send_raw(
        self, key: str, value: bytes, on_delivery: Callable[[KafkaError | None, Message], None] | None = None
    ) -> None:
        """Queue already-encoded bytes (replays, dead-letter tests, tools)."""
        callback = on_delivery or self._on_delivery
        while True:
            try:
                self._producer.produce(self.topic, key=key.encode(), value=value, on_delivery=callback)
                break
            except BufferError:
                # The local queue is full: serve delivery reports until there is room.
                self._producer.poll(0.5)
        self._producer.poll(0)

    def send_sync(self, event: Event, timeout: float = 30.0) -> Delivered:
        """Send one event and wait until the broker confirms it."""
        result: list[Message] = []

        def done(err: KafkaError | None, msg: Message) -> None:
            if err is not None:
                self._failures.append((event.case_id, str(err)))
            else:
                result.append(msg)

        self.send_raw(event.case_id, encode(event), on_delivery=done)
        self.flush(timeout)
        msg = result[0]
        return Delivered(msg.topic() or self.topic, msg.partition() or 0, msg.offset() or 0)

    def poll(self, timeout: float = 0.0) -> int:
        """Serve delivery reports for up to ``timeout`` seconds; return how many were served.

        For long-lived producers that confirm each send through its own ``on_delivery``
        callback instead of flushing everything (the HTTP API answers each request when the
        broker has acknowledged that request's event)."""
        return int(self._producer.poll(timeout))

    def flush(self, timeout: float = 60.0) -> None:
        """Wait for every queued send; raise DeliveryError for any the broker refused."""
        remaining = self._producer.flush(timeout)
        if remaining:
            self._failures.append(("*", f"{remaining} still queued after {timeout:.0f} s"))
        if self._failures:
            failures, self._failures = self._failures, []
            raise DeliveryError(failures)

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            key = msg.key()
            self._failures.append((key.decode() if key else "?", str(err)))
        else:
            self.delivered += 1
            partition, offset = msg.partition(), msg.offset()
            if partition is not None and offset is not None and offset > self.high_offsets.get(partition, -1):
                self.high_offsets[partition] = offset

    def __enter__(self) -> EventProducer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()
