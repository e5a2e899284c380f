"""The replay splits out content the store refuses, as the live worker does: with the contract
check off (as if the bytes met an older worker), an escalation level the ``UInt8`` column cannot
hold is dead-lettered as ``store_rejected:out_of_range`` and the rest of the log is rebuilt."""

from __future__ import annotations

import pytest

from civicloop.config import Config
from civicloop.projections.backend import open_store
from civicloop.projections.rebuild import rebuild_database
from civicloop.schemas.event import Event
from civicloop.streams import kafka
from civicloop.streams.replayer import Replayer
from tests.support import case_events as ev
from tests.support.workers import coordinator_ready, produce

pytestmark = [
    pytest.mark.integration,
    pytest.mark.every_backend("what the store refuses is each backend's own"),
    pytest.mark.parallel_fold("the fold processes' column checks find what the store would refuse"),
]


def unchecked(event: Event, revision: int) -> None:
    """No contract check (a module-level function: the replay's fold processes get it by name)."""


class WithoutContractCheck(Replayer):
    check_event = staticmethod(unchecked)


def test_the_replay_dead_letters_what_the_store_refuses_and_rebuilds_the_rest(config: Config) -> None:
    kafka.ensure_topics(config)
    events = [ev.reported(ev.at(0), f"R-{n}") for n in range(50)]
    absurd = ev.event(
        "CaseEscalated", ev.at(1), "R-7", level=300, reason="supervisor", task_id=None, deadline=None
    )
    events.insert(20, absurd)
    offsets = produce(config, events)
    store = open_store(config.clickhouse_url, config.home)
    try:
        replayer = WithoutContractCheck(
            config, store, config.kafka_bootstrap, rebuild_database(config.database)
        )
        coordinator_ready(config, replayer.group)
        status = replayer.run()

        assert (status.phase, status.done) == ("done", sum(o + 1 for o in offsets.values()))
        db = config.database
        dead = store.query(f"SELECT case_id, event_type, reason FROM {db}.dead_letters FINAL")
        assert dead == [("R-7", "CaseEscalated", "store_rejected:out_of_range")]
        assert store.query(f"SELECT count(), sum(escalations) FROM {db}.case_lifecycle FINAL") == [(50, 0)]
        assert store.query(f"SELECT count() FROM {db}.event_log FINAL WHERE type = 'CaseEscalated'") == [(0,)]
    finally:
        store.close()
