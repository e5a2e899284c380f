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

from civicloop import config as config_module
from civicloop import log
from civicloop.config import Config
from civicloop.projections.backend import open_store
from civicloop.projections.store.base import Store
from civicloop.tools.local.clickhouse_cluster import LocalCluster
from civicloop.tools.local.clickhouse_server import LocalClickHouse
from civicloop.tools.local.kafka_broker import LocalKafka
from civicloop.tools.local.process import free_port, local_port_range

log.configure(level="warning")
# `make test` runs the suite in pytest-xdist processes: each picks the ports of the servers it
# starts (and its tests' children pick theirs) from a range of its own, so that a port one
# process picked but has not bound yet is never picked by the other.
if "PYTEST_XDIST_WORKER" in os.environ and "CIVICLOOP_LOCAL_PORTS" not in os.environ:
    _index = int(os.environ["PYTEST_XDIST_WORKER"].removeprefix("gw"))
    _low, _high = local_port_range()
    _span = (_high - _low) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])
    os.environ["CIVICLOOP_LOCAL_PORTS"] = f"{_low + _index * _span}-{_low + (_index + 1) * _span - 1}"
REPO = Path(__file__).resolve().parents[1]
# `make test` runs every unit and component backend test on chDB and on the real server; `make
# check` (the inner loop's tier) sets CIVICLOOP_TEST_BACKENDS=chdb and deselects the tests marked
# `server`. An end-to-end test runs on the first backend (chDB) only, unless the property it checks
# is the backend's own: those say so with `@pytest.mark.every_backend("why")` and run on each
# (docs/TESTING.md lists them). The server's and the cluster's other promises are the contract
# suite's (tests/component/test_backend_contract.py) and the server's component tests.
BACKENDS = tuple(os.environ.get("CIVICLOOP_TEST_BACKENDS", "chdb,server").split(","))
BACKEND_FIXTURES = ("backend_url", "site")  # each takes its backend as its parameter
SERVER_FIXTURES = {"clickhouse_server_url", "clickhouse_cluster"}
# Component tests whose property is a process boundary (spawned fold processes, Apache Avro's
# Java decoder, a worker beside the real broker) or a large batch: `make test` runs them,
# `make check` does not.
SLOW_COMPONENT_MODULES = {
    "test_parallel_projector.py",
    "test_signal_schemas_java.py",
    "test_poison_message.py",
    "test_worker_sweep_failure.py",
    "test_supervisor.py",
    "test_bench_dashboard.py",
    "test_fold_pool_stop.py",
    "test_cluster_zookeeper.py",
    "test_local_cluster.py",
}
SLOW_TESTS = {
    "test_a_batch_of_20000_cases_with_64_character_ids_is_looked_up_and_projected",
    "test_forged_copies_are_dead_lettered_and_change_nothing_in_fold_processes_and_the_replay",
}

# The parallel fold (docs/DESIGN.md §8: fold processes spawned beside the writing process, two
# whatever the machine's cores) is what a deployment of these tests runs with: the end-to-end
# tests of kill -9, redelivery, replay, catch-up, hostile input and shutdown, the cluster and the
# benchmarks that report the fold processes (the `config` fixture's tests say so with
# `@pytest.mark.parallel_fold("why")`; the others pass `fold_processes=PARALLEL_FOLD`). Every
# other test folds in the writing process: each fold process costs a worker start about a second
# of CPU, and the parallel path's equivalence to one process is test_parallel_projector's.
PARALLEL_FOLD = 2


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "parallel_fold(why): an end-to-end deployment that folds in fold processes (PARALLEL_FOLD)"
    )


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark what `make check` leaves to `make test`, whatever the layer: every test that needs a
    ClickHouse server or the cluster (`server`), and the slow component tests above (`slow`);
    and the group of each test for pytest-xdist (`run_together`)."""
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.server)
        if item.path.name in SLOW_COMPONENT_MODULES or item.originalname in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
        item.add_marker(pytest.mark.xdist_group(run_together(item)))


def run_together(item: pytest.Item) -> str:
    """The tests one pytest-xdist process runs one after another (`make test`: `--dist loadgroup`,
    docs/TESTING.md), so that what they share starts once: a module's tests (its module
    fixtures), every API test (the package's sites, one per backend), every test of the 2×2
    cluster (the session's cluster, four servers)."""
    if "clickhouse_cluster" in getattr(item, "fixturenames", ()):
        return "cluster"
    where = item.path.relative_to(REPO)
    if where.parts[:3] == ("tests", "e2e", "api"):
        return "e2e-api"
    return where.as_posix()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Give ``backend_url`` (and the API's ``site``) the backends the test runs on."""
    for name in BACKEND_FIXTURES:
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, backends_of(metafunc.definition), indirect=True)


def backends_of(item: pytest.Item) -> tuple[str, ...]:
    end_to_end = "e2e" in item.path.relative_to(REPO).parts
    if end_to_end and item.get_closest_marker("every_backend") is None:
        return BACKENDS[:1]
    return BACKENDS


def make_config(home: Path, **overrides: object) -> Config:
    values: dict[str, object] = {
        "kafka_bootstrap": "",
        "clickhouse_url": f"chdb://{home / 'chdb'}",
        "namespace": f"t{uuid.uuid4().hex[:10]}",
        "home": home,
        "cache": Path(os.environ.get("CIVICLOOP_CACHE", "~/.cache/civicloop")).expanduser(),
        "partitions": 3,
        "local_ports": config_module.value("local_ports"),  # its children keep to this process's
        "worker_web_port": free_port(count=4),  # one port per worker index
        "api_port": free_port(),
        "keystore": home / "var" / "keys.sqlite",
        # One fold process (the writing process folds): see PARALLEL_FOLD for the tests whose
        # property is the parallel fold; a worker of any other test spawns no fold processes.
        "fold_processes": 1,
        # A supervisor restarts a child that died after 0.1 s, doubling (1 s by default): the
        # kill tests' restarts are the property, not the delay (test_supervisor keeps the default)
        "supervisor_backoff": 0.1,
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
    # SIGKILL: its data is thrown away; a graceful stop after a whole run's topics took seconds
    # (a graceful `kafka down` is test_broker_restarts' and the chaos test's)
    broker.kill()


@pytest.fixture(scope="session")
def clickhouse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalClickHouse]:
    """One real ClickHouse server (Debian's package) for the whole run."""
    server = LocalClickHouse(tmp_path_factory.mktemp("clickhouse"))
    server.up()
    yield server
    server.kill()  # its data is thrown away


@pytest.fixture(scope="session")
def clickhouse_server_url(clickhouse_server: LocalClickHouse) -> str:
    """The URL of that server, as civicloop's default (writer) user."""
    url = clickhouse_server.url()
    assert url is not None
    return url


@pytest.fixture(scope="session")
def clickhouse_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A real local cluster for the whole run: 2 shards × 2 replicas of Debian's ClickHouse
    server and a ZooKeeper, started by ``civicloop clickhouse up``'s own code."""
    cache = Path(os.environ.get("CIVICLOOP_CACHE", "~/.cache/civicloop")).expanduser()
    cluster = LocalCluster(tmp_path_factory.mktemp("clickhouse-cluster"), cache)
    cluster.up(shards=2, replicas=2, name="civicloop_test")
    yield cluster
    # SIGKILL: its data is thrown away, and a graceful `down` took ~10 s (two replicas' stops)
    # at the end of the run; a server's graceful stop is test_shutdown's
    cluster.kill()


@pytest.fixture
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
