"""A simulated multi-week city through the real broker and worker: every metric equals a plain
Python computation over the same events, on chDB and on the real ClickHouse server — also when
every event is delivered twice and the worker is SIGKILLed mid-stream."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from civicloop.config import Config
from civicloop.projections.metrics.closed_loop import metrics
from civicloop.schemas.event import Event
from civicloop.schemas.events import EVENT_TYPES
from civicloop.tools.simulate import simulate
from tests.support.reference_metrics import reference_metrics
from tests.support.workers import Worker, produce, wait_for_value, wait_projected

pytestmark = pytest.mark.integration

START = datetime(2026, 9, 7, tzinfo=UTC)  # a Monday; the run is well in the past
DAYS = 21
END = START + timedelta(days=DAYS)
DIMENSIONS = ("department", "category", "district", "grid", "channel")
PERIODS = ((None, None), (START + timedelta(days=7), START + timedelta(days=14)))


@pytest.fixture(scope="module")
def city() -> list[Event]:
    events = list(simulate(days=DAYS, cases_per_day=120, seed=2026, start=START))
    assert {e.type for e in events} == set(EVENT_TYPES), "the workload has every event type"
    return events


def _projected(worker: Worker) -> int:
    db = worker.config.database
    return int(worker.reader().query(f"SELECT count() FROM {db}.event_log FINAL")[0][0])


def _assert_metrics_match(worker: Worker, events: list[Event]) -> None:
    dead = worker.reader().query(
        f"SELECT reason, detail FROM {worker.config.database}.dead_letters FINAL LIMIT 5"
    )
    assert dead == [], "a legal simulated city produces no dead letters"
    for dim in DIMENSIONS:
        for t_from, t_to in PERIODS:
            got = metrics(worker.reader().query, worker.config.database, dim, t_from, t_to, now=END)
            want = reference_metrics(events, dim, t_from, t_to, now=END)
            assert got == want, f"metrics by {dim} for [{t_from}, {t_to})"


@pytest.mark.every_backend("the metric SQL on ClickHouse 18.16, against the reference")
def test_every_metric_equals_the_plain_computation(city: list[Event], config: Config, worker: Worker) -> None:
    wait_projected(config, produce(config, city), 180)
    assert _projected(worker) == len(city)

    _assert_metrics_match(worker, city)


@pytest.mark.parallel_fold("double delivery and kill -9 of a worker, its fold processes with it")
def test_double_delivery_and_sigkills_change_nothing(
    city: list[Event], config: Config, worker: Worker
) -> None:
    delivered: list[dict[int, int]] = []

    def deliver_twice() -> None:
        produce(config, city)
        delivered.append(produce(config, city))

    producer = threading.Thread(target=deliver_twice)
    producer.start()
    for step in range(1, 4):
        wait_for_value(lambda: _projected(worker), step * len(city) // 5, 180, "progress before a kill")
        worker.kill()
        worker.start()
    producer.join()

    wait_projected(config, delivered[0], 240)  # both deliveries, every table
    assert _projected(worker) == len(city)
    _assert_metrics_match(worker, city)
