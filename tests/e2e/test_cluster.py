"""Outgrowing one machine: a 2-shard × 2-replica ClickHouse cluster fed by two workers.

A simulated city goes through the real broker to two workers in one consumer group, writing
through Distributed tables into replicated tables. Mid-stream a worker and then a replica are
killed with SIGKILL and restarted. Then the metrics (every grouping), durations and backlog
must equal a single-node chDB run of the same events, the restarted replica must hold the
same rows as its partner, and a replay on the cluster must reproduce every table while a
reader polling meanwhile only ever sees complete projections.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from civicloop.cli import app
from civicloop.config import Config
from civicloop.projections.backend import open_store
from civicloop.projections.metrics import reports
from civicloop.projections.metrics.closed_loop import metrics
from civicloop.projections.metrics.sql import DIMENSIONS
from civicloop.projections.rebuild import rebuild_database
from civicloop.projections.store.base import Reader
from civicloop.projections.store.cluster import ClusterStore
from civicloop.projections.store.worker import worker_health
from civicloop.schemas.event import Event
from civicloop.streams import kafka
from civicloop.streams.replayer import Replayer
from civicloop.tools.local.clickhouse_cluster import LocalCluster, Node
from civicloop.tools.local.process import wait_until
from civicloop.tools.local.stack import worker_config
from civicloop.tools.simulate import simulate
from tests.conftest import PARALLEL_FOLD
from tests.support import case_events as ev
from tests.support.checksums import checksum_sql, checksums
from tests.support.workers import Worker, deployment, produce, wait_for_value, wait_projected

pytestmark = pytest.mark.integration
EVENTS = 24_000
START = datetime(2026, 3, 2, tzinfo=UTC)
#: "now" for every figure compared: fixed, so open-and-overdue does not depend on the clock
NOW = START + timedelta(days=40)
MONTH = (START + timedelta(days=7), START + timedelta(days=37))


@pytest.fixture
def config(
    tmp_path: Path, kafka_bootstrap: str, clickhouse_cluster: LocalCluster, monkeypatch: pytest.MonkeyPatch
) -> Config:
    layout = clickhouse_cluster.layout()
    assert layout is not None
    return deployment(
        tmp_path,
        monkeypatch,
        kafka_bootstrap=kafka_bootstrap,
        clickhouse_url=layout.entry.url,
        clickhouse_cluster=layout.name,
        watchdog_interval=0,  # escalations stamped with today's clock would make runs differ
        signals_interval=0,  # so would sweeps, once a slow run outlasts their interval
        fold_processes=PARALLEL_FOLD,  # kills and a replay
    )


@pytest.fixture
def workers(config: Config) -> Iterator[list[Worker]]:
    started = [Worker(config, index).start() for index in range(2)]
    yield started
    for worker in started:
        worker.kill()  # teardown: stopping gracefully is test_shutdown's


def _city() -> list[Event]:
    # About eight events a case over 30 days; cases still open at the end stay in the backlog.
    return list(itertools.islice(simulate(days=30, cases_per_day=EVENTS / 240, seed=15, start=START), EVENTS))


def test_a_city_on_a_cluster_with_two_workers_equals_one_node_through_kills_and_a_replay(
    config: Config, workers: list[Worker], clickhouse_cluster: LocalCluster, tmp_path: Path
) -> None:
    cluster = _open(config)
    events = _city()
    sent: dict[int, int] = {}
    producer = threading.Thread(target=lambda: sent.update(produce(config, events)))
    producer.start()

    # kill -9 a worker mid-stream: its partitions go to the other one, or to it once restarted
    _wait_for_events(cluster, config, EVENTS // 4)
    workers[1].kill()
    workers[1].start()
    # kill -9 a replica mid-stream: writes and state reads of its shard move to its partner
    _wait_for_events(cluster, config, EVENTS // 2)
    victim = _node(clickhouse_cluster, shard=2, replica=1)
    clickhouse_cluster.node(victim).kill()
    _keep_down_while_the_stream_goes_on(cluster, config)
    clickhouse_cluster.node(victim).up()
    producer.join()
    wait_projected(config, sent, timeout=600)

    # the restarted replica catches up: every table holds the same rows on both replicas
    live = _replicas_agree(cluster, config.database)
    assert live["event_log"][0] == EVENTS and live["dead_letters"][0] == 0

    # the same events on one chDB node give the same figures, for every grouping
    single = _single_node_run(config, tmp_path)
    try:
        assert _figures(cluster, config.database) == _figures(single, config.database)
        assert checksums(cluster, config.database) == checksums(single, config.database)
    finally:
        single.close()

    # replay on the cluster: the same rows, and a polling reader only sees complete projections
    seen = _polling(
        config, lambda reader: reader.query(checksum_sql(reader, config.database, "case_lifecycle"))
    )
    with seen:
        result = CliRunner().invoke(app, ["replay"])
    assert result.exit_code == 0, result.output
    assert checksums(cluster, config.database) == live
    assert len(seen.values) > 1 and set(seen.values) == {tuple(live["case_lifecycle"])}
    assert _replicas_agree(cluster, config.database) == live
    cluster.close()


def test_two_workers_on_the_cluster_escalate_each_missed_deadline_exactly_once(
    tmp_path: Path, kafka_bootstrap: str, clickhouse_cluster: LocalCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = clickhouse_cluster.layout()
    assert layout is not None
    config = deployment(
        tmp_path,
        monkeypatch,
        kafka_bootstrap=kafka_bootstrap,
        clickhouse_url=layout.entry.url,
        clickhouse_cluster=layout.name,
        watchdog_interval=0.5,
    )
    late = [(f"late-{n}", n % 2 == 0) for n in range(6)]  # cases on several partitions
    workers = [Worker(config, index).start() for index in range(2)]
    try:
        produce(config, [e for case_id, accepted in late for e in _late_case(case_id, accepted)])
        expected = sum(1 if accepted else 2 for _, accepted in late)
        cluster = _open(config)
        wait_for_value(lambda: sum(r[1] for r in _escalations(cluster, config)), expected, 120, "escalated")
        # Both workers sweep the whole cluster, several times each: every sweep finds the same
        # deadlines, and the deterministic event ids make all but the first a duplicate.
        for worker in workers:
            wait_for_value(lambda w=worker: _sweeps(w), 6, 60, f"sweeps of worker {worker.index}")

        assert _escalations(cluster, config) == [
            (case_id, 1 if accepted else 2, 2) for case_id, accepted in sorted(late)
        ]
        logged = cluster.query(
            f"SELECT count(), uniqExact(event_id) FROM {config.database}.event_log FINAL "
            "WHERE type = 'CaseEscalated'"
        )
        assert logged == [(expected, expected)]
        cluster.close()
    finally:
        for worker in workers:
            worker.kill()


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


def _escalations(cluster: ClusterStore, config: Config) -> list[tuple]:
    return cluster.query(
        f"SELECT case_id, escalations, escalation_level FROM {config.database}.case_lifecycle "
        "FINAL ORDER BY case_id"
    )


def _sweeps(worker: Worker) -> int:
    health = worker_health(worker_config(worker.config, worker.index).worker_web_port)
    return int(health["watchdog_sweeps"]) if health else 0


def _open(config: Config) -> ClusterStore:
    store = open_store(config.clickhouse_url, cluster=config.clickhouse_cluster)
    assert store.sharded
    return store


def _node(cluster: LocalCluster, shard: int, replica: int) -> Node:
    layout = cluster.layout()
    assert layout is not None
    return next(n for n in layout.nodes if (n.shard, n.replica) == (shard, replica))


def _events(cluster: ClusterStore, config: Config) -> int:
    return int(cluster.query(f"SELECT count() FROM {config.database}.event_log FINAL")[0][0])


def _wait_for_events(cluster: ClusterStore, config: Config, count: int) -> None:
    wait_for_value(lambda: _events(cluster, config), count, 300, f"{count} events projected")


def _keep_down_while_the_stream_goes_on(cluster: ClusterStore, config: Config) -> None:
    """Keep the replica down until 3,000 more events are projected, or for 20 s: when its
    partner lacked a part it had not fetched yet, the workers rightly wait for the replica
    (state reads need a replica with every write) and the count cannot move."""
    before = _events(cluster, config)
    try:
        wait_until(lambda: _events(cluster, config) >= before + 3_000, 20, "projection with a replica down")
    except TimeoutError:
        pass


def _replicas_agree(cluster: ClusterStore, database: str) -> dict[str, tuple]:
    """Poll until, on every shard, each replica's local tables have the same row checksums;
    return the checksums of the whole cluster (through the Distributed tables)."""
    generation = cluster.local_database(database)
    assert generation is not None
    per_replica: dict[Node, dict[str, tuple]] = {}

    def agree() -> bool:
        for node in cluster.nodes():
            per_replica[node] = checksums(cluster.node(node), generation)
        shards = {n.shard for n in cluster.nodes()}
        return all(len({str(v) for n, v in per_replica.items() if n.shard == s}) == 1 for s in shards)

    wait_until(agree, 180, "replicas holding the same rows", interval=1.0)
    assert all(per_replica[n]["event_log"][0] > 0 for n in cluster.nodes()), "every shard holds cases"
    return checksums(cluster, database)


def _single_node_run(config: Config, tmp_path: Path) -> Reader:
    """The same topic replayed into chDB in this process: one node, no cluster."""
    single = replace(config, clickhouse_url=f"chdb://{tmp_path / 'single'}", clickhouse_cluster="")
    store = open_store(single.clickhouse_url)
    Replayer(single, store, kafka.bootstrap(single), rebuild_database(single.database)).run()
    return store


def _figures(reader: Reader, db: str) -> dict[str, object]:
    figures: dict[str, object] = {}
    for dim in DIMENSIONS:
        figures[f"metrics {dim}"] = metrics(reader.query, db, dim, now=NOW)
        figures[f"metrics {dim} month"] = metrics(reader.query, db, dim, *MONTH, now=NOW)
        figures[f"durations {dim}"] = reports.durations(reader.query, db, dim)
        figures[f"backlog {dim}"] = reports.backlog(reader.query, db, dim, NOW)
    assert figures["metrics all"], "the city has figures to compare"
    return figures


class _Polling:
    """A reader of its own querying in a thread until the ``with`` block ends."""

    def __init__(self, config: Config, read: Callable[[Reader], list[tuple]]) -> None:
        self.config, self.read = config, read
        self.values: list[tuple] = []
        self.errors: list[BaseException] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def __enter__(self) -> _Polling:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()
        assert not self.errors, self.errors

    def _run(self) -> None:
        reader = _open(self.config)
        try:
            while not self._done.is_set():
                self.values.append(tuple(self.read(reader)[0]))
        except BaseException as exc:
            self.errors.append(exc)
        finally:
            reader.close()


def _polling(config: Config, read: Callable[[Reader], list[tuple]]) -> _Polling:
    return _Polling(config, read)
