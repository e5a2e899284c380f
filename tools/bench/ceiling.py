"""The raw ceiling of consuming the event log: confluent-kafka consume + civicloop decode.

Nothing a projection needs beyond reading and decoding each message: no fold, no state, no
ClickHouse, no commits. The consumer has the Replayer's settings and batch size, so the
difference to a replay is exactly civicloop's fold and writes.
"""

from __future__ import annotations

import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from civicloop.schemas.codec import decode
from civicloop.streams import settings
from civicloop.tools.bench.report import Figure

_STALL_S = 30.0


def consume_and_decode(
    address: str,
    topic: str,
    count: int,
    batch: int,
    label: str = "confluent-kafka consume + decode (ceiling)",
) -> Figure:
    """Read ``topic`` from the beginning until ``count`` messages, decoding each, ``batch``
    at a time (the replay's CIVICLOOP_REPLAY_BATCH). The clock
    starts at the first message: connecting and the first fetch (about a second on loopback)
    are a fixed cost, and counting them would make the ceiling lower the smaller N is."""
    consumer = Consumer(
        {
            "bootstrap.servers": address,
            "group.id": f"bench-ceiling-{uuid.uuid4().hex}",
            **settings.REPLAY_CONSUMER,
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in sorted(partitions)])
        seconds = _read(consumer, count, batch)
    finally:
        consumer.close()
    return Figure(label, count, seconds)


def _read(consumer: Consumer, count: int, size: int) -> float:
    """Seconds from the first message received to the ``count``-th decoded."""
    done, last_progress, started = 0, time.monotonic(), 0.0
    while done < count:
        # Never ask for more than is left: consume() would wait out its timeout for them.
        batch = consumer.consume(min(size, count - done), timeout=1.0)
        if batch and not started:
            started = time.perf_counter()
        for msg in batch:
            if msg.error() is None:
                decode(msg.value() or b"")
                done += 1
        if batch:
            last_progress = time.monotonic()
        elif time.monotonic() - last_progress > _STALL_S:
            raise TimeoutError(
                f"the ceiling consumer read {done} of {count} messages, then nothing for {_STALL_S:.0f} s"
            )
    return time.perf_counter() - started
