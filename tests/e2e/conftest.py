"""Per-test deployments for the integration layer: a namespace, a backend, a running worker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from civicloop.config import Config
from tests.conftest import PARALLEL_FOLD
from tests.support.workers import Worker, deployment


@pytest.fixture
def config(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    kafka_bootstrap: str,
    backend_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Config:
    """One deployment per test and backend. The SLA watchdog is off: it stamps escalations
    with today's clock, which would make exact comparisons depend on when the test runs. So is
    the signals sweep (its tests turn it on): it would add signal rows mid-comparison. It folds
    in fold processes when the test is marked `parallel_fold` (tests/conftest.py: PARALLEL_FOLD)."""
    parallel = request.node.get_closest_marker("parallel_fold") is not None
    return deployment(
        tmp_path,
        monkeypatch,
        kafka_bootstrap=kafka_bootstrap,
        clickhouse_url=backend_url,
        watchdog_interval=0,
        signals_interval=0,
        fold_processes=PARALLEL_FOLD if parallel else 1,
    )


@pytest.fixture
def worker(config: Config) -> Iterator[Worker]:
    running = Worker(config).start()
    yield running
    # SIGKILL, not a graceful stop: the teardown checks nothing, and a graceful stop costs seconds
    # per test. Stopping gracefully is the property of the tests that call stop() (test_shutdown).
    running.kill()
