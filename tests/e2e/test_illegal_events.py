"""Illegal, out-of-order and corrupt input in the live stream: each lands in the dead-letter
table with its reason and raw bytes, and the good events around it are projected normally."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from civicloop.config import Config
from civicloop.schemas.codec import encode
from civicloop.streams.producer import EventProducer
from tests.support import case_events as ev
from tests.support.workers import Worker, wait_for_value

pytestmark = pytest.mark.integration
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_bad_input_is_dead_lettered_with_its_reason_and_good_input_projected(
    config: Config, worker: Worker
) -> None:
    stream = [
        ev.closed(at(0), case_id="ghost"),  # a case never reported
        ev.reported(at(0), "good"),
        ev.accepted(at(0.5), "T9", case_id="good"),  # a task never dispatched
        ev.registered(at(1), "good"),
        ev.dispatched(at(2), "T1", case_id="good"),
        encode(ev.reported(at(1), "good"))[:30],  # truncated: corrupt bytes
        ev.accepted(at(3), "T1", case_id="good"),
        ev.reported(at(0), "void"),
        ev.voided(at(1), case_id="void"),
        ev.registered(at(2), "void"),  # after voiding
        ev.disposed(at(5), "T1", case_id="good"),
        ev.closed(datetime.now(UTC) + timedelta(days=3), case_id="good"),  # far in the future
        ev.closed(at(6), case_id="good"),
    ]
    with EventProducer(config.kafka_bootstrap, config.events_topic) as producer:
        for item in stream:
            if isinstance(item, bytes):
                producer.send_raw("good", item)
            else:
                producer.send(item)

    reader = worker.reader()
    db = config.database
    wait_for_value(
        lambda: int(reader.query(f"SELECT count() FROM {db}.dead_letters FINAL")[0][0]), 5, 60, "dead letters"
    )
    wait_for_value(
        lambda: int(
            reader.query(f"SELECT count() FROM {db}.case_lifecycle FINAL WHERE state = 'CLOSED'")[0][0]
        ),
        1,
        60,
        "closure",
    )

    dead = reader.query(
        f"SELECT case_id, reason, event_type FROM {db}.dead_letters FINAL ORDER BY partition, offset"
    )
    assert sorted(dead) == sorted(
        [
            ("ghost", "illegal:case_not_reported", "CaseClosed"),
            ("good", "illegal:task_not_dispatched", "TaskAccepted"),
            ("good", "corrupt_body", ""),
            ("void", "illegal:case_voided", "CaseRegistered"),
            ("good", "illegal:future_event", "CaseClosed"),
        ]
    )
    raw = reader.query(f"SELECT hex(raw) FROM {db}.dead_letters FINAL WHERE event_type = 'TaskAccepted'")
    assert raw == [(encode(stream[2]).hex().upper(),)], "the raw bytes are kept as they came"
    cases = reader.query(
        f"SELECT case_id, state, first_accepted_at, disposed_at, closed_at "
        f"FROM {db}.case_lifecycle FINAL ORDER BY case_id"
    )
    assert cases == [("good", "CLOSED", at(3), at(5), at(6)), ("void", "VOIDED", None, None, None)]
