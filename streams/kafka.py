"""Where Kafka is, whether it answers, and the topics civicloop owns."""

from __future__ import annotations

import socket
import time

from confluent_kafka import KafkaException, TopicPartition
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


def known_address(config: Config) -> str | None:
    """Where Kafka is or will be: the configured bootstrap, else the local broker's address
    (kept while it is down: its ports never change), else None (no local broker yet)."""
    if config.kafka_bootstrap:
        return config.kafka_bootstrap
    for path in (config.local_broker_file, config.local_broker_address_file):
        try:
            address = path.read_text().strip()
        except FileNotFoundError:
            continue
        if address:
            return address
    return None


def reachable(address: str, timeout: float = 3.0) -> bool:
    """A broker of ``address`` accepts a connection and answers a metadata request."""
    for server in address.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            # A plain connect first keeps librdkafka from logging refusals while nobody listens.
            socket.create_connection((host or "localhost", int(port)), timeout=timeout).close()
        except (OSError, ValueError):
            continue
        try:
            AdminClient({"bootstrap.servers": address, "log_level": 0}).list_topics(timeout=timeout)
        except KafkaException:
            return False
        return True
    return False


def wait_for_broker(config: Config, first_delay: float = 1.0, max_delay: float = 30.0) -> str:
    """The bootstrap address once a broker there answers and civicloop's topics exist. A
    worker started while Kafka is away (a broker restart, a cluster still coming up) waits
    here, retrying with a logged, doubling delay, instead of exiting."""
    delay = first_delay
    while True:
        address = known_address(config)
        try:
            if address and reachable(address):
                ensure_topics(config, address)
                return address
        except KafkaException as exc:  # the broker went away again between the two calls
            _log.warning("kafka_topics_failed", bootstrap=address, error=str(exc))
        _log.warning(
            "kafka_unreachable",
            bootstrap=address or "(no local broker yet: `civicloop kafka up`)",
            retry_in_s=delay,
        )
        time.sleep(delay)
        delay = min(delay * 2, max_delay)


def topics(config: Config) -> list[NewTopic]:
    """Every topic civicloop owns in ``config``'s namespace, as civicloop creates it."""
    # Case events are never deleted or compacted (docs/DESIGN.md §6): corrections are new events.
    forever = {"retention.ms": "-1", "cleanup.policy": "delete"}
    return [
        NewTopic(config.events_topic, num_partitions=config.partitions, config=forever),
        NewTopic(config.dead_letter_topic, num_partitions=1, config=forever),
        # Signals are events too (docs/SIGNALS.md): kept forever, so a replay rebuilds them.
        NewTopic(config.signals_topic, num_partitions=1, config=forever),
        # The offsets where each revision of the event contract took effect: kept forever and
        # never compacted, so a replay from an empty store judges each event as it was judged.
        NewTopic(config.contract_topic, num_partitions=1, config=forever),
    ]


def ensure_topics(config: Config, address: str | None = None) -> None:
    """Create civicloop's topics (``topics``) when missing (idempotent)."""
    admin = AdminClient({"bootstrap.servers": address or bootstrap(config)})
    existing = admin.list_topics(timeout=15).topics
    missing = [topic for topic in topics(config) if topic.topic not in existing]
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
