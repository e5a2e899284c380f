"""The API's read-your-writes waits on the partition it computes for a case: it must be the
one librdkafka's default partitioner gives every civicloop producer (checked here against the
partitions a real broker reports for delivered messages)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, Message

from civicloop.streams import kafka
from civicloop.streams.producer import EventProducer, partition_of
from tests.conftest import make_config

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("partitions", [3, 7])
def test_a_case_key_goes_where_the_api_looks(partitions: int, kafka_bootstrap: str, tmp_path: Path) -> None:
    config = make_config(tmp_path, kafka_bootstrap=kafka_bootstrap, partitions=partitions)
    kafka.ensure_topics(config, kafka_bootstrap)
    delivered: dict[str, int] = {}

    def done(err: KafkaError | None, msg: Message) -> None:
        assert err is None, err
        delivered[(msg.key() or b"").decode()] = msg.partition() or 0

    keys = [f"sr-{uuid.uuid4().hex[:24]}" for _ in range(200)] + ["é-ü", "x" * 200]
    with EventProducer(kafka_bootstrap, config.events_topic) as producer:
        for key in keys:
            producer.send_raw(key, b"{}", on_delivery=done)
    assert len(set(delivered.values())) == partitions  # every partition got some
    assert {key: partition_of(key, partitions) for key in delivered} == delivered
