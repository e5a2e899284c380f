"""Publishing rejected messages to the dead-letter topic, raw bytes intact."""

from __future__ import annotations

from collections.abc import Sequence

from confluent_kafka import Producer

from civicloop.projections.tables.dead_letters import DeadLetter


class DeadLetterPublisher:
    """Sends each dead letter with its reason and origin in headers; waits for the broker."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self._producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all"})

    def __call__(self, letters: Sequence[DeadLetter]) -> None:
        for letter in letters:
            self._producer.produce(
                self.topic,
                key=letter.key,
                value=letter.raw,
                headers=[
                    ("reason", letter.reason.encode()),
                    ("detail", letter.detail.encode()[:4000]),
                    ("origin", f"{letter.topic}/{letter.partition}/{letter.offset}".encode()),
                ],
            )
        remaining = self._producer.flush(30)
        if remaining:
            raise RuntimeError(f"{remaining} dead letter(s) not confirmed by Kafka in 30 s")
