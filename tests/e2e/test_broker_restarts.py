"""Workers and broker restarts, on a real local broker that each test owns (it is stopped and
started here, so it cannot be the session's): a worker started before the broker waits for it
and then projects everything; a worker running through `kafka down` / `kafka up` projects what
is produced afterwards without being restarted; health reports the outage while it lasts."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from civicloop.config import Config
from civicloop.projections.store.worker import deployment_health
from civicloop.tools.local import stack
from civicloop.tools.local.kafka_broker import LocalKafka
from civicloop.tools.local.process import wait_until
from tests.conftest import make_config
from tests.support import case_events as ev
from tests.support.workers import produce, wait_projected

pytestmark = pytest.mark.integration


def city(n: int, prefix: str) -> list:
    """``n`` small cases: reported, registered, dispatched."""
    out = []
    for i in range(n):
        case_id = f"{prefix}-{i}"
        out += [
            ev.reported(ev.at(0), case_id),
            ev.registered(ev.at(0.1), case_id),
            ev.dispatched(ev.at(0.2), case_id=case_id),
        ]
    return out


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Config]:
    """A deployment with a broker of its own (not started yet) and chDB; everything started
    here is killed afterwards (SIGKILL: the teardown checks nothing, and the graceful `kafka
    down` the worker rides through is the test's own)."""
    config = make_config(tmp_path, namespace=f"b{uuid.uuid4().hex[:8]}", watchdog_interval=0)
    yield config
    stack.worker_process(config).kill()
    LocalKafka(config).kill()


def health(config: Config) -> dict:
    found = deployment_health(config)
    assert found is not None, stack.worker_process(config).log_tail()
    return found


def with_address(config: Config) -> Config:
    """``config`` pointing producers at the local broker (the worker finds it on its own)."""
    address = LocalKafka(config).bootstrap()
    assert address is not None
    return replace(config, kafka_bootstrap=address)


def test_a_worker_started_before_the_broker_projects_everything_and_rides_through_kafka_down_and_up(
    home: Config,
) -> None:
    """Two checks on one deployment, in turn: the first leaves a running broker and a worker
    that projected a first lot, which is where the second starts (``up`` and ``start_worker``
    find them running). One broker start and one worker start less than a deployment each."""
    a_worker_started_before_the_broker_projects_everything(home)
    a_worker_rides_through_kafka_down_and_up(home)


def a_worker_started_before_the_broker_projects_everything(home: Config) -> None:
    # given a worker started while there is no broker at all yet
    stack.start_worker(home)
    wait_until(lambda: "kafka_unreachable" in stack.worker_process(home).log_tail(), 60, "worker waiting")
    # when the broker comes up (the worker makes its topics and serves health) and events are produced
    LocalKafka(home).up()
    wait_until(lambda: deployment_health(home) is not None, 120, "worker connected")
    sent = produce(with_address(home), city(40, "early"))
    # then the same worker (never restarted) projects them all
    wait_projected(home, sent, timeout=180)
    status = stack.supervisor_status(home)
    assert status is not None and status.restarts == 0


def a_worker_rides_through_kafka_down_and_up(home: Config) -> None:
    # given a running broker and worker that projected a first lot
    address = LocalKafka(home).up()
    stack.start_worker(home)
    produced = with_address(home)
    wait_projected(home, produce(produced, city(30, "before")), timeout=180)
    wait_until(lambda: health(home)["status"] == "ok", 60, "health ok")
    # when the broker is stopped, health says so while it is down
    LocalKafka(home).down()
    wait_until(lambda: not health(home)["kafka"]["reachable"], 60, "outage reported")
    outage = health(home)
    assert outage["status"] == "degraded" and outage["problems"][0].startswith("Kafka unreachable")
    shown = {part.name: part for part in stack.status(home)}  # what `civicloop status` prints
    assert shown["kafka"].state == "stopped" and address in shown["kafka"].detail
    assert shown["worker"].state == "degraded" and "Kafka unreachable" in shown["worker"].detail
    # and when it comes back — on the same address — events produced afterwards
    assert LocalKafka(home).up() == address
    sent = produce(produced, city(30, "after"))
    # then they are projected by the same worker process, without a restart
    wait_projected(home, sent, timeout=180)
    wait_until(lambda: health(home)["status"] == "ok", 60, "health ok again")
    status = stack.supervisor_status(home)
    assert status is not None and status.restarts == 0
