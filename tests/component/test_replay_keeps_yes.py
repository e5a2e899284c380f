"""A replay never takes back a "yes" (docs/TRUST.md §1): events a worker accepted under the
laxer revision 1 of the contract (free text with a NUL, an escape sequence or U+202E; Open311
answers of any code and length) stay accepted by a replay, while the same text after the
boundary of revision 2 — recorded on the ``<ns>.contract`` topic before the new worker judged
anything — is dead-lettered, live and in the replay alike. Real broker, both backends."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from civicloop.config import Config
from civicloop.projections.backend import open_store
from civicloop.projections.contract import Boundary, Contract
from civicloop.projections.projector import Projector, RawMessage
from civicloop.projections.rebuild import rebuild_database
from civicloop.projections.store.base import Store
from civicloop.schemas.codec import encode
from civicloop.schemas.event import Event
from civicloop.schemas.events import check_decoded
from civicloop.schemas.revisions import BASE, CURRENT
from civicloop.streams import kafka
from civicloop.streams.contract import KafkaLedger, contract
from civicloop.streams.replayer import Replayer
from tests.conftest import make_config
from tests.support import case_events as ev
from tests.support.workers import coordinator_ready, produce

pytestmark = pytest.mark.integration

#: free text revision 1 took and revision 2 refuses
LAX = "refund \x00\x1b[2J\u202e001$"


def as_before(event: Event, revision: int) -> None:
    """The worker before revisions were recorded (d862e90^): revision 1's rule for everything."""
    check_decoded(event, BASE)


def _reported(case_id: str, **changes: Any) -> Event:
    report = ev.reported(ev.at(0), case_id)
    return Event(report.type, {**report.fields, **changes})


def _read(config: Config, since: int = 0) -> list[RawMessage]:
    """The case topic from offset ``since`` of each partition to its end."""
    ends = kafka.end_offsets(config.kafka_bootstrap, config.events_topic)
    consumer = Consumer(
        {"bootstrap.servers": config.kafka_bootstrap, "group.id": "reader", "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(config.events_topic, p, since) for p in ends])
    read: list[RawMessage] = []
    try:
        for _ in range(60):
            for m in consumer.consume(100, timeout=1.0):
                if m.error() is None:
                    where = (m.topic() or "", m.partition() or 0, m.offset() or 0)
                    read.append(RawMessage(*where, m.key(), m.value(), m.timestamp()[1]))
            if len(read) >= sum(end - since for end in ends.values() if end > since):
                break
    finally:
        consumer.close()
    return sorted(read, key=lambda m: (m.partition, m.offset))


def _projections(store: Store, db: str) -> dict[str, Sequence[Any]]:
    return {
        "events": sorted(store.query(f"SELECT case_id, type, event_id FROM {db}.event_log FINAL")),
        "cases": sorted(store.query(f"SELECT case_id, state, version FROM {db}.case_lifecycle FINAL")),
        "dead": sorted(
            store.query(f"SELECT case_id, event_type, reason, offset FROM {db}.dead_letters FINAL")
        ),
    }


def test_a_replay_keeps_what_the_laxer_revision_took_and_refuses_it_after_the_boundary(
    tmp_path: Path, kafka_bootstrap: str, backend_url: str
) -> None:
    config = make_config(tmp_path, kafka_bootstrap=kafka_bootstrap, clickhouse_url=backend_url, partitions=2)
    kafka.ensure_topics(config)
    db = config.database
    # given a log the worker before revision 2 projected: text and answers it took
    before = [
        _reported("R-1", description=LAX),
        _reported("R-2", attributes={"ANSWER\u202e": ["x" * 1001]}),
        ev.reported(ev.at(0), "R-3"),
        ev.registered(ev.at(1), "R-3"),
        ev.closed(ev.at(2), case_id="R-3"),
        ev.feedback(ev.at(3), case_id="R-3", rating=1, comment=LAX),
        ev.reported(ev.at(0), "R-4"),
        ev.registered(ev.at(1), "R-4"),
        ev.closed(ev.at(2), case_id="R-4"),
    ]
    stood = produce(config, before)
    store = open_store(config.clickhouse_url, config.home)
    try:
        store.lay_out(db)
        old = Projector(store, db, lambda letters: None, check_event=as_before)
        assert old.project_until_written(_read(config)).dead == []
        # when the same text comes after it, to a worker of revision 2 that gets the whole log
        # again (as after a kill before the old worker's last commit)
        after = [
            _reported("R-5", description=LAX),
            ev.feedback(ev.at(4), case_id="R-4", rating=1, comment=LAX),
            _reported("R-6", description="a clean one"),
        ]
        produce(config, after)
        new = Projector(store, db, lambda letters: None, contract=contract(config, store, kafka_bootstrap))
        result = new.project_until_written(_read(config))

        # then its boundary is where the old worker stood, and only the new text is refused
        boundaries = {
            (b.partition, b.revision, b.offset) for b in KafkaLedger(config, kafka_bootstrap).read()
        }
        assert boundaries == {(p, CURRENT, last + 1) for p, last in stood.items()}
        refused = {(d.case_id, d.event_type, d.reason) for d in result.dead}
        assert refused == {
            ("R-5", "CaseReported", "invalid:description"),
            ("R-4", "FeedbackReceived", "invalid:comment"),
        }
        live = _projections(store, db)
        assert {case for case, _, _ in live["cases"]} == {"R-1", "R-2", "R-3", "R-4", "R-6"}
        assert ("R-3", "FeedbackReceived") in {(case, type_) for case, type_, _ in live["events"]}

        # and a replay of the whole log rebuilds exactly what the live worker showed
        replayer = Replayer(config, store, kafka_bootstrap, rebuild_database(db))
        coordinator_ready(config, replayer.group)
        assert replayer.run().phase == "done"
        assert _projections(store, db) == live
    finally:
        store.close()


class Unreachable:
    """A ledger whose broker is gone: nothing can be recorded."""

    def read(self) -> list[Boundary]:
        return []

    def record(self, boundaries: list[Boundary]) -> None:
        raise ConnectionError("the broker is gone")


def test_nothing_is_judged_or_written_before_the_boundary_is_recorded(store: Store, database: str) -> None:
    # given a projection whose boundary cannot be recorded (what a kill just before it leaves)
    store.lay_out(database)
    projector = Projector(
        store, database, lambda letters: None, contract=Contract(Unreachable(), lambda topic: {})
    )
    batch = [RawMessage("events", 0, 0, b"R-1", encode(_reported("R-1", description=LAX)))]
    # when a batch comes, then it fails whole: no dead letter, no row, no progress marker
    with pytest.raises(ConnectionError):
        projector.project(batch)
    for table in ("dead_letters", "event_log", "case_lifecycle", "projection_progress"):
        assert store.query(f"SELECT count() FROM {database}.{table}") == [(0,)], table
