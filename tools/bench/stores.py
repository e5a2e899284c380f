"""Where the benchmarks write ClickHouse tables: chDB in a temp dir, a server, or a cluster.

``server`` uses ``CIVICLOOP_CLICKHOUSE_URL`` when it names a server (and no cluster), else
starts Debian's clickhouse-server in the temp dir for the run. ``cluster`` uses the configured
cluster (``CIVICLOOP_CLICKHOUSE_CLUSTER``) when there is one, else starts a local 2-shard ×
2-replica cluster with ZooKeeper in the temp dir, on the same machine: its figures are the
overhead of sharding and replication, not a scale-out. Either way the databases a run created
are dropped afterwards (on a cluster with their generations), so a shared server keeps nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from civicloop.projections.backend import from_url, open_store
from civicloop.tools.local.clickhouse_cluster import LocalCluster
from civicloop.tools.local.clickhouse_server import LocalClickHouse

#: the local cluster a ``cluster`` run starts when none is configured
SHARDS, REPLICAS = 2, 2


class Backend(StrEnum):
    chdb = "chdb"
    server = "server"
    cluster = "cluster"


@dataclass(frozen=True)
class Target:
    url: str
    cluster: str = ""


@contextmanager
def target(backend: Backend, tmp: Path, databases: list[str], keep: bool = False) -> Iterator[Target]:
    """Where the run writes; on a configured server or cluster, ``databases`` are dropped when
    it ends unless ``keep`` (for an independent check of them afterwards)."""
    if backend is Backend.chdb:
        yield Target(f"chdb://{tmp / 'chdb'}")  # the temp dir goes, and the tables with it
        return
    configured = os.environ.get("CIVICLOOP_CLICKHOUSE_URL", "")
    cluster = os.environ.get("CIVICLOOP_CLICKHOUSE_CLUSTER", "") if backend is Backend.cluster else ""
    if configured and not from_url(configured).one_writer and (cluster or backend is Backend.server):
        try:
            yield Target(configured, cluster)
        finally:
            if not keep:
                _drop(Target(configured, cluster), databases)
        return
    if backend is Backend.server:
        local = LocalClickHouse(tmp / "clickhouse")
        try:
            yield Target(local.up())
        finally:
            local.down()
        return
    cache = Path(os.environ.get("CIVICLOOP_CACHE", "~/.cache/civicloop")).expanduser()
    made = LocalCluster(tmp / "clickhouse-cluster", cache)
    try:
        layout = made.up(SHARDS, REPLICAS, name="civicloop_bench")
        yield Target(layout.entry.url, layout.name)
    finally:
        made.down()


def _drop(where: Target, databases: list[str]) -> None:
    store = open_store(where.url, cluster=where.cluster)
    try:
        for database in databases:
            store.drop_database(database)
    finally:
        store.close()
