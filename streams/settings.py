"""Kafka client settings, in one place: the product's clients and the benchmark ceilings use
these same dictionaries, so a ceiling is the same client doing the same work minus civicloop.
"""

from __future__ import annotations

from typing import Any

#: every producer of case events (SDK, API, watchdog, tools): idempotent, acknowledged by all
#: in-sync replicas, batched and compressed
PRODUCER: dict[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    "linger.ms": 20,
    "compression.type": "lz4",
    "queue.buffering.max.messages": 500_000,
    "batch.num.messages": 10_000,
}

#: the HTTP API's producer: each request waits for its own event's acknowledgement, so a short
#: linger keeps that wait short; requests in flight together still share batches
API_PRODUCER: dict[str, Any] = {**PRODUCER, "linger.ms": 5}

#: the replay's consumer: offsets committed by hand after each written batch, large fetches
REPLAY_CONSUMER: dict[str, Any] = {
    "enable.auto.commit": False,
    "auto.offset.reset": "earliest",
    "fetch.max.bytes": 64 * 1024 * 1024,
    "max.partition.fetch.bytes": 16 * 1024 * 1024,
    "queued.max.messages.kbytes": 256 * 1024,
}

#: messages the replay folds and writes per batch
REPLAY_BATCH = 20_000
