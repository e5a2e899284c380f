"""The SLA watchdog in the real worker: one escalation per missed deadline, across restarts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from civicloop.config import Config
from civicloop.projections.store.worker import worker_health
from civicloop.schemas.event import Event
from tests.support import case_events as ev
from tests.support.workers import Worker, deployment, produce, wait_for_value

pytestmark = pytest.mark.integration


@pytest.fixture
def config(tmp_path: Path, kafka_bootstrap: str, backend_url: str, monkeypatch: pytest.MonkeyPatch) -> Config:
    return deployment(
        tmp_path,
        monkeypatch,
        kafka_bootstrap=kafka_bootstrap,
        clickhouse_url=backend_url,
        watchdog_interval=0.5,
    )


def _late_case(case_id: str, accepted: bool) -> list[Event]:
    """Dispatched 3 h ago with 30 min to accept and 2 h to dispose: both deadlines have passed."""
    t0 = datetime.now(UTC) - timedelta(hours=3)
    events = [
        ev.reported(t0, case_id),
        ev.registered(t0 + timedelta(minutes=5), case_id),
        ev.dispatched(t0 + timedelta(minutes=10), "T1", case_id=case_id, accept_h=0.5, dispose_h=2),
    ]
    if accepted:
        events.append(ev.accepted(t0 + timedelta(minutes=20), "T1", case_id=case_id))
    return events


def _sweeps(worker: Worker) -> int:
    health = worker_health(worker.config.worker_web_port)
    return int(health["watchdog_sweeps"]) if health else 0


def _escalations(worker: Worker) -> list[tuple]:
    return worker.reader().query(
        f"SELECT case_id, escalations, escalation_level FROM {worker.config.database}.case_lifecycle "
        "FINAL ORDER BY case_id"
    )


def test_each_missed_deadline_is_escalated_exactly_once(config: Config, worker: Worker) -> None:
    produce(config, _late_case("late-both", accepted=False) + _late_case("late-dispose", accepted=True))

    wait_for_value(lambda: sum(row[1] for row in _escalations(worker)), 3, 60, "escalations projected")
    worker.stop()
    worker.start()  # a restart must not escalate the same deadlines again
    wait_for_value(lambda: _sweeps(worker), 6, 60, "watchdog sweeps after the restart")

    assert _escalations(worker) == [("late-both", 2, 2), ("late-dispose", 1, 2)]
    logged = worker.reader().query(
        f"SELECT count() FROM {config.database}.event_log FINAL WHERE type = 'CaseEscalated'"
    )
    assert logged == [(3,)]
    # a deadline escalated again (a restart, a sweep before the last one was projected) is the
    # same bytes: a redelivery, never a conflicting duplicate (docs/DESIGN.md §6)
    dead = worker.reader().query(f"SELECT reason FROM {config.database}.dead_letters FINAL")
    assert dead == []
