"""ON CLUSTER statements wait for a node's ZooKeeper session (a one-node cluster of its own).

A ClickHouse node answers queries before it has opened its ZooKeeper session, and Debian's
ClickHouse 18.16 dies of a segmentation fault when an ON CLUSTER statement reaches it in that
moment. Twice in CI, on a loaded machine, the test cluster's entry node died so, 15 ms after it
first answered, and every later ON CLUSTER statement of the run waited for a dead node. Here
ZooKeeper is held still (SIGSTOP) while the node starts, which makes that moment last seconds:
neither ``LocalCluster.up`` nor the cluster store may send the statement before it ends.
"""

from __future__ import annotations

import os
import signal
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from clickhouse_driver import Client

from civicloop.projections.store.cluster import ClusterStore
from civicloop.tools.local.clickhouse_cluster import Layout, LocalCluster

pytestmark = pytest.mark.integration
HELD_S = 2.0


@pytest.fixture
def one_node(tmp_path: Path) -> Iterator[LocalCluster]:
    cache = Path(os.environ.get("CIVICLOOP_CACHE", "~/.cache/civicloop")).expanduser()
    cluster = LocalCluster(tmp_path / "cluster", cache)
    cluster.up(shards=1, replicas=1, name="zk_test")
    yield cluster
    cluster.kill()


@contextmanager
def zookeeper_held(cluster: LocalCluster) -> Iterator[None]:
    """ZooKeeper stopped until HELD_S after the block starts (or the block's end, if sooner)."""
    pid = cluster.zookeeper.process.pid()
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    release = threading.Timer(HELD_S, os.kill, (pid, signal.SIGCONT))
    release.start()
    try:
        yield
    finally:
        release.cancel()
        os.kill(pid, signal.SIGCONT)


def _entry(cluster: LocalCluster) -> Layout:
    layout = cluster.layout()
    assert layout is not None
    return layout


def test_the_store_sends_on_cluster_only_once_the_entry_node_has_its_session(one_node: LocalCluster) -> None:
    layout = _entry(one_node)
    node = one_node.node(layout.entry)
    database = f"t{uuid.uuid4().hex[:12]}"
    node.kill()
    with zookeeper_held(one_node):
        node.up()  # it answers, without its ZooKeeper session
        assert Client("127.0.0.1", port=layout.entry.tcp).execute("SELECT 1") == [(1,)]
        store = ClusterStore("127.0.0.1", layout.entry.tcp, layout.name)
        store.lay_out(database)

    assert node.url() is not None, "the entry node is alive"
    assert store.query(f"SELECT count() FROM {database}.case_state") == [(0,)]
    store.close()


def test_the_local_cluster_is_up_only_once_every_node_has_its_session(one_node: LocalCluster) -> None:
    layout = _entry(one_node)
    one_node.node(layout.entry).kill()
    with zookeeper_held(one_node):
        one_node.up(shards=1, replicas=1, name="zk_test")
        statement = f"CREATE DATABASE IF NOT EXISTS t{uuid.uuid4().hex[:12]} ON CLUSTER zk_test"
        client = Client("127.0.0.1", port=layout.entry.tcp, settings={"distributed_ddl_task_timeout": 30})
        client.execute(statement)

    assert one_node.node(layout.entry).url() is not None, "the node is alive"
