"""Fixtures shared by every layer: real Kafka, a real ClickHouse server, chDB in temp dirs.

The broker and the server are started once per test run by civicloop's own tooling; each test
gets its own namespace (topic names, consumer group, database), so tests never see each
other's data.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from civicloop import log
from civicloop.config import Config
from civicloop.projections.store.base import Store, open_store
from civicloop.tools.local.clickhouse_cluster import LocalCluster
from civicloop.tools.local.clickhouse_server import LocalClickHouse
from civicloop.tools.local.kafka_broker import LocalKafka
from civicloop.tools.local.process import free_port

log.configure(level="warning")
REPO = Path(__file__).resolve().parents[1]
BACKENDS = ("chdb", "server")


def make_config(home: Path, **overrides: object) -> Config:
    values: dict[str, object] = {
        "kafka_bootstrap": "",
        "clickhouse_url": f"chdb://{home / 'chdb'}",
        "namespace": f"t{uuid.uuid4().hex[:10]}",
        "home": home,
        "cache": Path(os.environ.get("CIVICLOOP_CACHE", "~/.cache/civicloop")).expanduser(),
        "partitions": 3,
        "worker_web_port": free_port(),
        "api_port": free_port(),
        "keystore": home / "var" / "keys.sqlite",
        # Two fold processes whatever the machine's cores: the crash, redelivery and replay
        # tests cover the parallel path (docs/DESIGN.md §8); component tests cover one process.
        "fold_processes": 2,
    }
    values.update(overrides)
    return Config(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real Apache Kafka broker for the whole run (or CIVICLOOP_TEST_KAFKA when set)."""
    configured = os.environ.get("CIVICLOOP_TEST_KAFKA")
    if configured:
        yield configured
        return
    broker = LocalKafka(make_config(tmp_path_factory.mktemp("kafka-home")))
    address = broker.up()
    yield address
    broker.down()


@pytest.fixture(scope="session")
def clickhouse_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real ClickHouse server (Debian's package) for the whole run."""
    server = LocalClickHouse(tmp_path_factory.mktemp("clickhouse"))
    url = server.up()
    yield url
    server.down()


@pytest.fixture(scope="session")
def clickhouse_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A real local cluster for the whole run: 2 shards × 2 replicas of Debian's ClickHouse
    server and a ZooKeeper, started by ``civicloop clickhouse up``'s own code."""
    cache = Path(os.environ.get("CIVICLOOP_CACHE", "~/.cache/civicloop")).expanduser()
    cluster = LocalCluster(tmp_path_factory.mktemp("clickhouse-cluster"), cache)
    cluster.up(shards=2, replicas=2, name="civicloop_test")
    yield cluster
    cluster.down()


@pytest.fixture(params=BACKENDS)
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A ClickHouse URL for each backend in turn: chDB in a temp dir, then the real server."""
    if request.param == "chdb":
        return f"chdb://{tmp_path / 'chdb'}"
    url: str = request.getfixturevalue("clickhouse_server_url")
    return url


@pytest.fixture
def store(backend_url: str) -> Iterator[Store]:
    """An open store on each backend; closed after the test (chDB allows one at a time)."""
    opened = open_store(backend_url)
    yield opened
    opened.close()


@pytest.fixture
def database() -> str:
    return f"t{uuid.uuid4().hex[:12]}"
