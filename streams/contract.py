"""The contract's boundaries on Kafka: the ``<ns>.contract`` topic (``projections/contract.py``).

One message per boundary — revision R of the contract judges partition P of the case topic
from offset O on — keyed ``<topic>/<partition>/<revision>``, its value JSON. The topic is kept
forever and never compacted (as the case topic: a replay from an empty store must still find
every boundary); a boundary recorded twice (two workers in a rebalance) is read as the lower
offset. A boundary is written with ``acks=all`` and confirmed before anything is judged under
its revision, so a kill after it leaves it in place and a kill before it leaves nothing judged.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Consumer, Message, Producer, TopicPartition

from civicloop import log
from civicloop.config import Config
from civicloop.projections.contract import Boundary, Contract
from civicloop.projections.read_model.progress import standing
from civicloop.projections.store.base import Store
from civicloop.streams import kafka

_log = log.get(__name__)


class KafkaLedger:
    """Reads and appends the boundaries of ``config``'s namespace."""

    def __init__(self, config: Config, bootstrap: str) -> None:
        self.config, self.bootstrap = config, bootstrap
        self.topic = config.contract_topic
        self._ready = False

    def read(self) -> list[Boundary]:
        self._ensure()
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": f"{self.config.namespace}-contract-reader",  # assigned, never committed
                "enable.auto.commit": False,
            }
        )
        try:
            where = TopicPartition(self.topic, 0)
            low, high = consumer.get_watermark_offsets(where, timeout=30)
            if high <= low:
                return []
            consumer.assign([TopicPartition(self.topic, 0, low)])
            found: list[Boundary] = []
            position = low
            while position < high:
                msg = consumer.poll(10)
                if msg is None:
                    raise RuntimeError(f"{self.topic}: nothing read at offset {position} of {high}")
                error = msg.error()
                if error is not None:
                    raise RuntimeError(f"{self.topic}: {error}")
                position = (msg.offset() or 0) + 1
                found.extend(_boundary(msg))
            return found
        finally:
            consumer.close()

    def record(self, boundaries: list[Boundary]) -> None:
        self._ensure()
        # acks=all, confirmed below; not idempotent: a retry's second copy of a boundary reads
        # as the first, and an idempotent producer's start took 0.5-1 s of every worker's first batch
        producer = Producer({"bootstrap.servers": self.bootstrap, "acks": "all", "linger.ms": 0})
        failed: list[str] = []

        def delivered(error: Any, _: Any) -> None:
            if error is not None:
                failed.append(str(error))

        for b in boundaries:
            value = {
                "topic": b.topic,
                "partition": b.partition,
                "revision": b.revision,
                "offset": b.offset,
                "recorded_at": datetime.now(UTC).isoformat(),
            }
            key = f"{b.topic}/{b.partition}/{b.revision}".encode()
            producer.produce(self.topic, key=key, value=json.dumps(value).encode(), on_delivery=delivered)
        if producer.flush(30) or failed:
            raise RuntimeError(f"{self.topic}: boundaries not confirmed by Kafka: {failed or 'timed out'}")

    def _ensure(self) -> None:
        """A deployment made before the contract topic gets it (with civicloop's settings)."""
        if not self._ready:
            kafka.ensure_topics(self.config, self.bootstrap)
            self._ready = True


def _boundary(msg: Message) -> list[Boundary]:
    """The boundary a message holds (none for one that is not a boundary: logged, skipped)."""
    try:
        doc = json.loads(msg.value() or b"")
        return [Boundary(str(doc["topic"]), int(doc["partition"]), int(doc["revision"]), int(doc["offset"]))]
    except (ValueError, KeyError, TypeError) as exc:
        _log.error("contract_boundary_unreadable", offset=msg.offset(), error=repr(exc))
        return []


def contract(config: Config, store: Store, bootstrap: str) -> Contract:
    """The contract of ``config``'s case topic: boundaries on Kafka, placed where the live
    database's projection stands (also for a replay, which writes elsewhere)."""

    # A replay into an empty store has no live projection yet: it stands nowhere. Any other
    # failure of the store fails the batch (retried), and never records a boundary.
    return Contract(
        KafkaLedger(config, bootstrap), lambda topic: standing(store.query, config.database, topic)
    )
