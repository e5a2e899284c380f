"""A failing SLA watchdog sweep is logged, counted and retried at the next interval — never
raised into the worker (an exception escaping a Faust timer stops the whole process)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from civicloop.projections.projector import RawMessage
from civicloop.schemas.codec import encode
from civicloop.streams import kafka
from civicloop.streams.worker_state import WorkerState
from tests.conftest import make_config
from tests.support import case_events as ev

pytestmark = pytest.mark.integration


def test_a_sweep_that_fails_is_counted_and_the_next_one_works(
    tmp_path: Path, kafka_bootstrap: str, backend_url: str
) -> None:
    config = make_config(tmp_path, kafka_bootstrap=kafka_bootstrap, clickhouse_url=backend_url)
    kafka.ensure_topics(config)
    state = WorkerState(config, kafka_bootstrap)
    try:
        t0 = datetime.now(UTC) - timedelta(hours=3)
        late = [
            ev.reported(t0, "L"),
            ev.registered(t0, "L"),
            ev.dispatched(t0, "T1", case_id="L", accept_h=0.5),
        ]
        now_ms = int(time.time() * 1000)
        state.project(
            [RawMessage(config.events_topic, 0, n, b"L", encode(e), now_ms) for n, e in enumerate(late)]
        )
        state.store.command(f"RENAME TABLE {config.database}.case_tasks TO {config.database}.case_tasks_away")

        assert state.sweep() == 0  # the watchdog's query fails: logged, not raised
        assert state.health()["watchdog_sweeps_failed"] == 1

        state.store.command(f"RENAME TABLE {config.database}.case_tasks_away TO {config.database}.case_tasks")
        assert state.sweep() == 1, "the next pass escalates the missed accept-by"
        health = state.health()
        assert (health["watchdog_sweeps"], health["watchdog_sweeps_failed"], health["escalated"]) == (1, 1, 1)
    finally:
        state.store.close()
