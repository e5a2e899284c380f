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

#: the worker's Faust app (its aiokafka consumer): how fast the group notices a dead member and
#: moves its partitions. Measured with ``civicloop bench chaos`` (docs/BENCHMARKS.md, "Chaos"):
#: Faust's defaults (60 s session, 3 s heartbeat) stalled a killed member's partitions for up to
#: a minute. 6 s is the smallest session a stock broker accepts (group.min.session.timeout.ms);
#: heartbeats at 1 s let the survivors learn of a rebalance within a second. The rebalance
#: timeout bounds how long a rejoin may take; the request timeout must not be below the session.
WORKER_CONSUMER: dict[str, Any] = {
    "broker_session_timeout": 6.0,
    "broker_heartbeat_interval": 1.0,
    "broker_rebalance_timeout": 20.0,
    "broker_request_timeout": 30.0,
}


#: Kafka static membership (KIP-345): a worker with a stable name (CIVICLOOP_WORKER_ID) that is
#: restarted after a crash takes its partitions back without a rebalance of the whole group, so
#: only its own partitions pause, for as long as the restart takes. Without a name the worker
#: is a dynamic member: its partitions move after the session timeout above.
def group_instance_id(consumer_group: str, worker_id: str) -> str | None:
    return f"{consumer_group}-{worker_id}" if worker_id else None


#: the notifier's consumer (streams/notify/notifier.py): offsets committed by hand, after the
#: batch's deliveries are in the outbox; a new group starts at the beginning of the log (what a
#: subscription or a reporter message is owed is decided per event, not by where it starts);
#: the same short session as the worker's, so a killed notifier's partitions move within seconds
NOTIFIER_CONSUMER: dict[str, Any] = {
    "enable.auto.commit": False,
    "auto.offset.reset": "earliest",
    "session.timeout.ms": 6000,
    "heartbeat.interval.ms": 1000,
}
