"""A running worker whose SLA watchdog sweeps fail keeps running and keeps sweeping: shown on
the server, where the test can take a table away from under the worker (on chDB the worker
holds the directory; tests/component/test_worker_sweep_failure.py covers both backends)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from civicloop.config import Config
from civicloop.projections.backend import open_store
from civicloop.projections.store.worker import worker_health
from civicloop.tools.local import stack
from tests.support import case_events as ev
from tests.support.workers import Worker, deployment, produce, wait_for_value, wait_projected

pytestmark = pytest.mark.integration


@pytest.fixture
def config(
    tmp_path: Path, kafka_bootstrap: str, clickhouse_server_url: str, monkeypatch: pytest.MonkeyPatch
) -> Config:
    return deployment(
        tmp_path,
        monkeypatch,
        kafka_bootstrap=kafka_bootstrap,
        clickhouse_url=clickhouse_server_url,
        watchdog_interval=0.5,
    )


@pytest.fixture
def worker(config: Config) -> Iterator[Worker]:
    running = Worker(config).start()
    yield running
    running.kill()  # teardown: stopping gracefully is test_shutdown's


def _health(config: Config, key: str) -> int:
    health = worker_health(config.worker_web_port)
    return int(health[key]) if health else -1


def test_failing_sweeps_leave_the_worker_running(config: Config, worker: Worker) -> None:
    wait_projected(config, produce(config, [ev.reported(ev.at(0), "W")]), 60)
    db = config.database
    admin = open_store(config.clickhouse_url)
    try:
        admin.command(f"RENAME TABLE {db}.case_tasks TO {db}.case_tasks_away")
        wait_for_value(lambda: _health(config, "watchdog_sweeps_failed"), 3, 60, "failed sweeps")
        assert stack.worker_process(config).pid() is not None, "the worker is still running"
        admin.command(f"RENAME TABLE {db}.case_tasks_away TO {db}.case_tasks")
        sweeps = _health(config, "watchdog_sweeps")
        wait_for_value(lambda: _health(config, "watchdog_sweeps"), sweeps + 2, 60, "sweeps again")
    finally:
        admin.close()
    wait_projected(config, produce(config, [ev.registered(ev.at(1), "W")]), 60)
    assert worker.reader().query(f"SELECT state FROM {db}.case_lifecycle FINAL") == [("REGISTERED",)]
