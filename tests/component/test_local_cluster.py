"""``civicloop clickhouse up --shards N`` / ``down``: a local cluster stops whole and starts again
on the layout it had (its own 2-shard cluster, not the session's)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from clickhouse_driver import Client

from civicloop.tools.local.clickhouse_cluster import LocalCluster

pytestmark = pytest.mark.integration


def test_down_stops_every_node_and_zookeeper_and_up_brings_the_same_cluster_back(tmp_path: Path) -> None:
    cache = Path(os.environ.get("CIVICLOOP_CACHE", "~/.cache/civicloop")).expanduser()
    cluster = LocalCluster(tmp_path / "cluster", cache)
    layout = cluster.up(shards=2, replicas=1, name="updown")
    try:
        Client("127.0.0.1", port=layout.entry.tcp).execute("CREATE DATABASE kept ON CLUSTER updown")
        pids = [cluster.node(node).process.pid() for node in layout.nodes]

        assert cluster.down() is True
        assert cluster.running() == []
        assert cluster.zookeeper.process.pid() is None
        assert all(not Path(f"/proc/{pid}").exists() for pid in pids), "every node's process is gone"
        assert cluster.down() is False, "nothing was running"

        assert cluster.up(shards=2, replicas=1, name="updown") == layout
        for node in layout.nodes:
            client = Client("127.0.0.1", port=node.tcp)
            found = client.execute("SELECT name FROM system.databases WHERE name = 'kept'")
            assert found == [("kept",)], f"{node.name} kept its database"
    finally:
        cluster.kill()
