"""One poison message never stalls its partition (docs/DESIGN.md §6).

Given events on a real Kafka topic, one of which makes the fold raise an unexpected exception
(a bug, not an illegal event: the fold here is the real one wrapped by a fault), when the batch
is projected into chDB, then that message is a dead letter ``internal:<ExceptionType>`` with the
traceback, and the messages after it in the same partition are projected.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from civicloop.projections.backend import open_store
from civicloop.projections.fold.casestate import CaseState
from civicloop.projections.fold.lifecycle import fold
from civicloop.projections.projector import Projector, RawMessage
from civicloop.schemas.event import Event
from civicloop.streams.producer import EventProducer
from tests.support import case_events as ev

pytestmark = pytest.mark.integration


def _topic(bootstrap: str) -> str:
    name = f"poison-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})  # kept alive until the result is in
    admin.create_topics([NewTopic(name, num_partitions=1)])[name].result(30)
    return name


def _read_all(bootstrap: str, topic: str, count: int) -> list[RawMessage]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": topic, "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    read: list[RawMessage] = []
    try:
        for _ in range(60):
            for m in consumer.consume(count - len(read), timeout=1.0):
                if m.error() is None:
                    read.append(RawMessage(topic, m.partition() or 0, m.offset() or 0, m.key(), m.value()))
            if len(read) >= count:
                break
    finally:
        consumer.close()
    assert len(read) == count
    return read


def test_a_message_that_crashes_the_fold_is_dead_lettered_and_the_rest_projected(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    # given a case's events on a real topic, the third of which the fold will crash on
    events = [
        ev.reported(ev.at(0), "C-9"),
        ev.registered(ev.at(1), "C-9"),
        ev.escalated(ev.at(1.5), case_id="C-9"),
        ev.dispatched(ev.at(2), "T1", case_id="C-9"),
        ev.accepted(ev.at(3), "T1", case_id="C-9"),
        ev.reported(ev.at(4), "C-10"),
    ]
    poison = events[2].event_id
    topic = _topic(kafka_bootstrap)
    with EventProducer(kafka_bootstrap, topic) as producer:
        for event in events:
            producer.send(event)

    def faulty_fold(state: CaseState | None, event: Event, **kw: Any) -> CaseState:
        if event.event_id == poison:
            raise ZeroDivisionError("a bug in the fold")
        return fold(state, event, **kw)

    store = open_store(f"chdb://{tmp_path / 'chdb'}")
    try:
        store.lay_out("db")
        projector = Projector(store, "db", lambda letters: None, fold=faulty_fold)
        # when the partition's messages are projected as one batch
        result = projector.project(_read_all(kafka_bootstrap, topic, len(events)))
        # then the poison message is a dead letter with the exception type and its traceback
        dead = store.query("SELECT offset, reason, detail, event_id FROM db.dead_letters FINAL")
        assert [(o, r, e) for o, r, _, e in dead] == [(2, "internal:ZeroDivisionError", poison)]
        assert "Traceback" in dead[0][2] and "a bug in the fold" in dead[0][2]
        # and the messages after it in the same partition are projected
        logged = {eid for (eid,) in store.query("SELECT event_id FROM db.event_log FINAL")}
        assert logged == {e.event_id for e in events} - {poison}
        assert result.projected == len(events) - 1
        states = store.query(
            "SELECT case_id, state, escalations FROM db.case_lifecycle FINAL ORDER BY case_id"
        )
        assert states == [("C-10", "REPORTED", 0), ("C-9", "IN_PROGRESS", 0)]
        marked = store.query(
            "SELECT max(offset) FROM db.projection_progress WHERE topic = %(t)s", {"t": topic}
        )
        assert marked == [(len(events) - 1,)]
    finally:
        store.close()
