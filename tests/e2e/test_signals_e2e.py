"""Signals end to end on real Kafka and ClickHouse: a simulated city with one injected surge
raises SurgeDetected for that cell; a kill -9 of the worker mid-run and a replay afterwards
give the same set of signals (same event ids), and the signals topic holds no other id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition
from typer.testing import CliRunner

from civicloop.cli import app
from civicloop.config import Config
from civicloop.schemas.signals import decode_signal, signal_id
from civicloop.streams import kafka
from civicloop.tools.local.process import wait_until
from civicloop.tools.simulate import SimConfig, simulate
from civicloop.tools.simulate.config import Surge
from tests.conftest import PARALLEL_FOLD
from tests.support.workers import Worker, deployment, produce, wait_projected

pytestmark = pytest.mark.integration
LOCAL = timedelta(hours=8)  # the simulated city's UTC offset
START = datetime(2026, 3, 2, tzinfo=UTC) - LOCAL  # a Monday, local midnight
DAYS = 42
SURGE_DAY = START + timedelta(days=37)  # a Saturday, local midnight
SURGE = Surge("water.leak", "D01", int(SURGE_DAY.timestamp()), 24, 5.0)


@pytest.fixture
def config(tmp_path: Path, kafka_bootstrap: str, backend_url: str, monkeypatch: pytest.MonkeyPatch) -> Config:
    return deployment(
        tmp_path,
        monkeypatch,
        kafka_bootstrap=kafka_bootstrap,
        clickhouse_url=backend_url,
        watchdog_interval=0,
        signals_interval=1.0,
        signal_utc_offset_h=8.0,
        signal_lateness_s=0.0,
        fold_processes=PARALLEL_FOLD,  # a kill -9 and a replay
    )


def _ids(worker: Worker, config: Config) -> set[str]:
    rows = worker.reader().query(f"SELECT event_id FROM {config.database}.signals FINAL")
    return {r[0] for r in rows}


def _evaluated_to_the_end(worker: Worker, config: Config) -> bool:
    rows = worker.reader().query(
        f"SELECT detector, max(evaluated_until) FROM {config.database}.signal_progress GROUP BY detector"
    )
    # The last day closes only with a report after it, and the city has none: every detector
    # stops at the start of the last day (docs/SIGNALS.md, "closed").
    end = START + timedelta(days=DAYS - 1)
    marks = {d: t for d, t in rows}
    return len(marks) == 3 and all(t >= end for t in marks.values())


def _settled(worker: Worker, config: Config) -> set[str]:
    """The signal ids once every detector evaluated the whole city and the table has them all."""
    wait_until(lambda: _evaluated_to_the_end(worker, config), 300, "detectors evaluated the city", interval=1)
    last: list[set[str]] = []

    def stable() -> bool:
        last.append(_ids(worker, config))
        return len(last) >= 3 and last[-1] == last[-2] == last[-3]

    wait_until(stable, 120, "signals table settled", interval=1)
    return last[-1]


def _topic_ids(config: Config) -> list[str]:
    consumer = Consumer(
        {"bootstrap.servers": config.kafka_bootstrap, "group.id": "e2e-reader", "enable.auto.commit": False}
    )
    end = kafka.end_offsets(config.kafka_bootstrap, config.signals_topic)
    consumer.assign([TopicPartition(config.signals_topic, p, 0) for p in end])
    ids: list[str] = []
    while len(ids) < sum(end.values()):
        # a short timeout: a call waits it out whenever fewer than 500 are left
        for msg in consumer.consume(500, timeout=0.5):
            if msg.error() is None:
                ids.append(decode_signal(msg.value()).event_id)
    consumer.close()
    return ids


def test_an_injected_surge_is_signalled_and_kill_and_replay_repeat_the_same_signals(config: Config) -> None:
    # given a six-week city whose water leaks in D01 come five times as fast on one day
    events = list(simulate(DAYS, 220, seed=3, start=START, config=SimConfig(surges=(SURGE,))))
    half = len(events) // 2
    worker = Worker(config).start()
    try:
        # when half of it is projected, the worker is killed (-9) and restarted for the rest
        offsets = produce(config, events[:half])
        wait_projected(config, offsets, timeout=300)
        worker.kill()
        worker.start()
        offsets = produce(config, events[half:])
        wait_projected(config, offsets, timeout=300)
        live = _settled(worker, config)
        # then the surge of that cell was raised for that day, under its deterministic id
        surge = signal_id("surge", "day", "district", "water.leak", "D01", SURGE_DAY)
        assert surge in live
        row = worker.reader().query(
            f"SELECT type, observed, expected FROM {config.database}.signals FINAL WHERE event_id = %(id)s",
            {"id": surge},
        )
        assert row[0][0] == "SurgeDetected" and row[0][1] > 3 * row[0][2]
        dead = worker.reader().query(f"SELECT count() FROM {config.database}.dead_letters")
        assert dead == [(0,)]

        # when the projections are rebuilt by a replay (the detectors' markers start empty)
        result = CliRunner().invoke(app, ["replay"])
        assert result.exit_code == 0, result.output
        replayed = _settled(worker, config)
        # then the same set of signals, and nothing on the topic beyond it (re-raised = same id)
        assert replayed == live
        assert set(_topic_ids(config)) == live
    finally:
        worker.kill()  # teardown: stopping gracefully is test_shutdown's
