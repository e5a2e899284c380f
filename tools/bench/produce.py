"""``civicloop bench produce``: the producer SDK against a bare confluent-kafka producer.

Three figures on the same events and the same broker: (1) the ceiling, a bare Producer sending
bytes encoded beforehand, with the same settings as EventProducer (``streams/settings.py``);
(2) fastavro's raw encode rate; (3) civicloop's whole path, ``new_event`` (validation) +
``encode`` + ``send`` + flush. Each send figure ends with a flush, so it counts only what the
broker acknowledged. The topic is a throwaway ``{namespace}.bench-<random>``, deleted
afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from confluent_kafka import KafkaError, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from civicloop.config import Config
from civicloop.schemas.codec import encode
from civicloop.schemas.events import new_event
from civicloop.streams import kafka, settings
from civicloop.streams.producer import EventProducer
from civicloop.tools.bench import codec, workload
from civicloop.tools.bench.broker import queue
from civicloop.tools.bench.report import Ratio, Result, timed

RATIOS = [
    Ratio("vs_raw_produce", "civicloop / raw produce", "civicloop_produce", "raw_produce"),
    Ratio("vs_raw_encode", "civicloop / raw encode", "civicloop_produce", "raw_encode"),
    Ratio("validation_vs_raw_produce", "new_event alone / raw produce", "new_event", "raw_produce"),
]
_WARM_UP = 2_000


def run(config: Config, count: int = 200_000, rounds: int = 3, seed: int = 12345) -> Result:
    """Time each path over ``count`` events; each figure is the fastest of ``rounds``."""
    address = kafka.bootstrap(config)
    specs = workload.specs(count, seed)
    events = [new_event(t, **fields) for t, fields in specs]
    pairs = codec.raw_pairs(events)
    messages = [(e.case_id.encode(), encode(e)) for e in events]
    with _throwaway_topic(config, address) as topic:
        raw = _RawProducer(address, topic)
        ours = EventProducer(address, topic)
        _warm_up(raw, ours, specs[:_WARM_UP], messages[:_WARM_UP])
        # CPU-only loops first in each round: right after a send the local broker is still
        # writing, and would take a core from them.
        figures = timed(
            count,
            {
                "raw_encode": ("fastavro schemaless_writer (ceiling)", lambda: codec.raw_encode(pairs)),
                "new_event": ("civicloop new_event alone (validation)", lambda: _build_all(specs)),
                "raw_produce": (
                    "confluent-kafka produce, pre-encoded (ceiling)",
                    lambda: raw.send_all(messages),
                ),
                "civicloop_produce": (
                    "civicloop new_event + encode + send + flush",
                    lambda: _civicloop_send_all(ours, specs),
                ),
            },
            rounds,
        )
    notes = {
        "rounds": rounds,
        "partitions": config.partitions,
        "warm_up_events": _WARM_UP,
        "mean_message_bytes": round(sum(len(v) for _, v in messages) / count, 1),
        "acknowledged_raw": raw.delivered,
        "acknowledged_civicloop": ours.delivered,
    }
    return Result("civicloop bench produce", figures, RATIOS, notes)


class _RawProducer:
    """confluent-kafka with nothing on top: produce pre-encoded bytes, count acknowledgements."""

    def __init__(self, address: str, topic: str) -> None:
        self._producer = Producer({"bootstrap.servers": address, **settings.PRODUCER})
        self._topic = topic
        self.delivered = 0
        self.failed: list[str] = []

    def _done(self, err: KafkaError | None, _msg: Message) -> None:
        if err is None:
            self.delivered += 1
        else:
            self.failed.append(str(err))

    def send_all(self, messages: list[tuple[bytes, bytes]]) -> None:
        queue(self._producer, self._topic, messages, self._done, wait_s=0.1)
        self._producer.flush(120)
        if self.failed or len(self._producer):
            raise RuntimeError(
                f"raw producer: {len(self.failed)} failed ({self.failed[:3]}), "
                f"{len(self._producer)} still queued"
            )


def _build_all(specs: list[workload.Spec]) -> None:
    for event_type, fields in specs:
        new_event(event_type, **fields)


def _civicloop_send_all(producer: EventProducer, specs: list[workload.Spec]) -> None:
    for event_type, fields in specs:
        producer.send(new_event(event_type, **fields))
    producer.flush(120)  # raises DeliveryError when the broker refused any


def _warm_up(
    raw: _RawProducer, ours: EventProducer, specs: list[workload.Spec], messages: list[tuple[bytes, bytes]]
) -> None:
    # Connecting, fetching metadata, the idempotent producer's id handshake and the codec's
    # per-schema tables all stay off the clock.
    raw.send_all(messages)
    _civicloop_send_all(ours, specs)
    codec.raw_encode(codec.raw_pairs([new_event(t, **fields) for t, fields in specs]))


@contextmanager
def _throwaway_topic(config: Config, address: str) -> Iterator[str]:
    admin = AdminClient({"bootstrap.servers": address})
    topic = f"{config.namespace}.bench-{uuid.uuid4().hex[:8]}"
    admin.create_topics([NewTopic(topic, num_partitions=config.partitions)])[topic].result(30)
    try:
        yield topic
    finally:
        admin.delete_topics([topic])[topic].result(30)
