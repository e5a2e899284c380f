"""SIGTERM ends a worker within its bound whatever it is doing — here, stuck on a ClickHouse
server that hangs (SIGSTOP: every call blocks) or is gone (every write fails and is retried) —
and leaves only redeliverable work: a new worker projects everything afterwards.

The server is one of the test's own (it is frozen and killed here); the broker is the
session's. The worker runs without a supervisor, so the signal reaches exactly it.
"""

from __future__ import annotations

import os
import signal
import sys
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from civicloop.config import Config, to_env
from civicloop.projections.store.worker import worker_health
from civicloop.tools.local.clickhouse_server import LocalClickHouse
from civicloop.tools.local.process import Managed, wait_until
from tests.conftest import PARALLEL_FOLD, make_config
from tests.support import case_events as ev
from tests.support.workers import Worker, produce, wait_projected

pytestmark = pytest.mark.integration


def cases(n: int, prefix: str) -> list:
    out = []
    for i in range(n):
        case_id = f"{prefix}-{i}"
        out += [ev.reported(ev.at(0), case_id), ev.registered(ev.at(0.1), case_id)]
    return out


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalClickHouse]:
    local = LocalClickHouse(tmp_path / "clickhouse")
    local.up()
    yield local
    local.kill()  # SIGKILL, stopped or not: its data is the test's own and thrown away


def writing(config: Config) -> bool:
    health = worker_health(config.worker_web_port)
    return health is not None and health["batch_writing_s"] is not None


def bare_worker(config: Config) -> Managed:
    """``civicloop worker`` in the background, not supervised."""
    process = Managed("bare-worker", config.var)
    env = {**os.environ, **to_env(config), "PYTHONUNBUFFERED": "1"}
    process.start([sys.executable, "-m", "civicloop.cli", "worker"], env=env)
    return process


@pytest.mark.parametrize("failure", ["hangs", "is gone"])
def test_sigterm_ends_a_worker_stuck_on_its_store(
    tmp_path: Path, kafka_bootstrap: str, server: LocalClickHouse, failure: str
) -> None:
    url = server.url()
    assert url is not None
    config = make_config(
        tmp_path,
        kafka_bootstrap=kafka_bootstrap,
        clickhouse_url=url,
        namespace=f"s{uuid.uuid4().hex[:8]}",
        watchdog_interval=0,
        fold_processes=PARALLEL_FOLD,  # SIGTERM ends the worker's fold processes too
        # The new worker below takes the stopped one's partitions back at once (Kafka static
        # membership) instead of after the group's session timeout: what it must project is
        # the property, not when the group lets it.
        worker_id="w1",
        # The bound is waited out whenever the graceful stop cannot finish, as here: what is
        # checked is that the worker is gone within it, not its length (8 s by default).
        shutdown_bound=2.0,
    )
    # given a worker that projected a first lot
    worker = bare_worker(config)
    try:
        wait_until(lambda: worker_health(config.worker_web_port) is not None, 120, "worker up")
        wait_projected(config, produce(config, cases(20, "first")), timeout=120)
        # when its store fails under it while a batch is being written
        pid = server.process.pid()
        assert pid is not None
        if failure == "hangs":
            os.killpg(pid, signal.SIGSTOP)
        else:
            server.process.kill()
        produce(config, cases(200, "stuck"))
        # (its health shows the batch it is writing: inside a store call, or between retries)
        wait_until(lambda: writing(config), 60, "a batch in flight")
        if failure == "is gone":
            wait_until(lambda: "batch_write_failed" in worker.log_tail(), 60, "a failing write")
        # and it is sent SIGTERM
        worker_pid = worker.pid()
        assert worker_pid is not None
        os.kill(worker_pid, signal.SIGTERM)
        # then it is gone within its bound (with 10 s of margin for a loaded machine)
        wait_until(lambda: worker.pid() is None, config.shutdown_bound + 10, "worker exit after SIGTERM")
    finally:
        worker.stop(timeout=5)
    # and once the store is back, a new worker projects everything: nothing was lost
    if failure == "hangs":
        os.killpg(server.process.pid() or 0, signal.SIGCONT)
    else:
        server.down()
        url = server.up()
    config = replace(config, clickhouse_url=url)
    again = Worker(config).start()
    try:
        sent = produce(config, cases(5, "last"))
        wait_projected(config, sent, timeout=180)
    finally:
        again.kill()
