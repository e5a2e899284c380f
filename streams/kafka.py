"""Where Kafka is, and the topics civicloop owns."""

from __future__ import annotations

from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec

from civicloop import log
from civicloop.config import Config

_log = log.get(__name__)


class NoKafka(RuntimeError):
    """No broker is configured and the local one is not running."""


def bootstrap(config: Config) -> str:
    """The configured bootstrap address, else the local broker's, else a clear error."""
    if config.kafka_bootstrap:
        return config.kafka_bootstrap
    try:
        address = config.local_broker_file.read_text().strip()
    except FileNotFoundError:
        address = ""
    if not address:
        raise NoKafka(
            "No Kafka to talk to: start the local broker with `civicloop kafka up` (or the "
            "whole stack with `civicloop up`), or set CIVICLOOP_KAFKA_BOOTSTRAP=host:port."
        )
    return address


def ensure_topics(config: Config, address: str | None = None) -> None:
    """Create the case-events, signals and dead-letter topics when missing (idempotent)."""
    admin = AdminClient({"bootstrap.servers": address or bootstrap(config)})
    existing = admin.list_topics(timeout=15).topics
    # Case events are never deleted or compacted (docs/DESIGN.md §6): corrections are new events.
    forever = {"retention.ms": "-1", "cleanup.policy": "delete"}
    wanted = [
        NewTopic(config.events_topic, num_partitions=config.partitions, config=forever),
        NewTopic(config.dead_letter_topic, num_partitions=1, config=forever),
        # Signals are events too (docs/SIGNALS.md): kept forever, so a replay rebuilds them.
        NewTopic(config.signals_topic, num_partitions=1, config=forever),
    ]
    missing = [topic for topic in wanted if topic.topic not in existing]
    if not missing:
        return
    for name, future in admin.create_topics(missing, operation_timeout=30).items():
        try:
            future.result()
            _log.info("topic_created", topic=name)
        except Exception as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise


def end_offsets(address: str, topic: str) -> dict[int, int]:
    """Partition → the offset the next message will get (the log end), in one request."""
    admin = AdminClient({"bootstrap.servers": address})
    metadata = admin.list_topics(topic, timeout=15).topics[topic]
    wanted = {TopicPartition(topic, p): OffsetSpec.latest() for p in metadata.partitions}
    futures = admin.list_offsets(wanted, request_timeout=30)
    return {tp.partition: future.result().offset for tp, future in futures.items()}
