"""The cluster store on a real 2-shard × 2-replica cluster: reads of one's own writes are exact.

A replica that has not fetched a part yet must never answer the worker's state reads: the
store picks a replica that holds every acknowledged write, and when the only such replica is
down it raises (the batch is retried) instead of returning an older state.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from civicloop.api.projected import Projections
from civicloop.projections.backend import open_store
from civicloop.projections.rebuild import rebuild_database
from civicloop.projections.store.cluster import ClusterStore, Node, ReplicasBehind
from civicloop.projections.store.server import ServerStore
from civicloop.projections.tables.cluster import reader_databases
from civicloop.tools.local.clickhouse_cluster import LocalCluster
from civicloop.tools.local.clickhouse_server import ReaderUser
from civicloop.tools.local.process import wait_until
from tests.conftest import make_config

pytestmark = pytest.mark.integration
SELECT = "SELECT case_id, argMax(state, offset) FROM {table} WHERE case_id IN %(ids)s GROUP BY case_id"


@pytest.fixture
def cluster(clickhouse_cluster: LocalCluster) -> Iterator[ClusterStore]:
    layout = clickhouse_cluster.layout()
    assert layout is not None
    store = open_store(layout.entry.url, cluster=layout.name)
    assert store.sharded
    yield store
    store.close()


def _state(case_id: str, state: str, offset: int) -> dict[str, object]:
    return {"case_id": case_id, "state": state, "partition": 0, "offset": offset}


def _shard_of(store: ClusterStore, database: str, case_id: str) -> int:
    """The shard the Distributed table put ``case_id`` on (looked up, not recomputed)."""
    local = store.local_database(database)
    for node in store.nodes():
        found = store.node(node).query(
            f"SELECT count() FROM {local}.case_state WHERE case_id = %(id)s", {"id": case_id}
        )
        if found[0][0]:
            return node.shard
    raise AssertionError(f"{case_id} is on no shard")


def test_writes_land_on_one_shard_and_read_back_through_the_distributed_table(cluster: ClusterStore) -> None:
    db = f"t{uuid.uuid4().hex[:12]}"
    cluster.lay_out(db)
    cases = [f"case-{n}" for n in range(40)]

    cluster.insert(f"{db}.case_state", [_state(c, "v1", 1) for c in cases])

    assert cluster.query(f"SELECT count() FROM {db}.case_state FINAL") == [(40,)]
    shards = {c: _shard_of(cluster, db, c) for c in cases}
    assert set(shards.values()) == {1, 2}, "cases spread over both shards"
    local = cluster.local_database(db)
    per_node = {
        n: cluster.node(n).query(f"SELECT count() FROM {local}.case_state")[0][0] for n in cluster.nodes()
    }
    assert sum(per_node.values()) == 80, "each row on the two replicas of its shard, nowhere else"


def test_a_lagging_replica_never_answers_and_without_a_caught_up_one_the_read_fails(
    cluster: ClusterStore, clickhouse_cluster: LocalCluster
) -> None:
    db = f"t{uuid.uuid4().hex[:12]}"
    cluster.lay_out(db)
    local = cluster.local_database(db)
    cluster.insert(f"{db}.case_state", [_state("c-1", "v1", 1)])
    shard = _shard_of(cluster, db, "c-1")
    first, second = [n for n in cluster.nodes() if n.shard == shard]
    cluster.node(first).command(f"SYSTEM SYNC REPLICA {local}.case_state")

    # given the first replica stops fetching, and a newer state is written on the second
    cluster.node(first).command(f"SYSTEM STOP FETCHES {local}.case_state")
    try:
        cluster.node(second).insert(f"{local}.case_state", [_state("c-1", "v2", 2)])
        _until_pulled(cluster.node(first), local)

        # then the first replica alone still says v1, but the store reads v2 from the second
        stale = cluster.node(first).query(SELECT.replace("{table}", f"{local}.case_state"), {"ids": ["c-1"]})
        assert stale == [("c-1", "v1")]
        assert cluster.query_caught_up(db, "case_state", SELECT, {"ids": ["c-1"]}) == [("c-1", "v2")]

        # and with the second replica down, the store refuses rather than answer v1
        _local_node(clickhouse_cluster, second).kill()
        with pytest.raises(ReplicasBehind, match=f"shard {shard}"):
            cluster.query_caught_up(db, "case_state", SELECT, {"ids": ["c-1"]}, timeout=2)
    finally:
        _local_node(clickhouse_cluster, second).up()
        cluster.node(first).command(f"SYSTEM START FETCHES {local}.case_state")

    # once the replica is back, the first fetches v2 and the read succeeds again
    assert cluster.query_caught_up(db, "case_state", SELECT, {"ids": ["c-1"]}) == [("c-1", "v2")]


def _until_pulled(node: ServerStore, database: str) -> None:
    """Wait until ``node`` has pulled the newest log entry into its queue (its fetch stopped): the
    state in which its in-memory counters and its log pointer disagree for a moment."""

    def pulled() -> bool:
        ((pointer, newest),) = node.query(
            "SELECT log_pointer, log_max_index FROM system.replicas "
            "WHERE database = %(db)s AND table = 'case_state'",
            {"db": database},
        )
        return bool(pointer > newest)

    wait_until(pulled, 30, f"{node.url} pulling the replication log", interval=0.05)


def _local_node(clickhouse_cluster: LocalCluster, node: Node):  # type: ignore[no-untyped-def]
    layout = clickhouse_cluster.layout()
    assert layout is not None
    local = next(n for n in layout.nodes if n.tcp == node.port)
    return clickhouse_cluster.node(local)


def test_workers_starting_together_make_one_set_of_tables(clickhouse_cluster: LocalCluster) -> None:
    layout = clickhouse_cluster.layout()
    assert layout is not None
    db = f"t{uuid.uuid4().hex[:12]}"
    stores = [open_store(n.url, cluster=layout.name) for n in layout.nodes[:2]]
    errors: list[BaseException] = []

    def start(store: ClusterStore) -> None:
        try:
            store.lay_out(db)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    for node in layout.nodes:
        store = open_store(node.url, cluster=layout.name)
        assert store.sharded
        try:
            assert store.generations(db) == {f"{db}_g0"}
        finally:
            store.close()
    for store in stores:
        store.close()


def test_the_api_reads_a_cluster_through_the_entry_node_with_the_cluster_settings(
    cluster: ClusterStore, clickhouse_cluster: LocalCluster, tmp_path: Path
) -> None:
    # given a case stored twice (a newer version on top) on a 2×2 cluster
    layout = clickhouse_cluster.layout()
    assert layout is not None
    db = f"t{uuid.uuid4().hex[:12]}"
    cluster.lay_out(db)
    cluster.insert(f"{db}.case_state", [_state("c-1", "v1", 1)])
    cluster.insert(f"{db}.case_state", [_state("c-1", "v2", 2)])
    config = make_config(
        tmp_path, clickhouse_url=layout.entry.url, clickhouse_cluster=layout.name, namespace=db
    )
    # when the API reads a Distributed table with FINAL and no aggregation (ClickHouse 18.16
    # fails that in-process without the entry settings: "Cannot find column … in source stream")
    rows = Projections(config).query(f"SELECT case_id, state FROM {db}.case_state FINAL")
    # then the one latest row
    assert rows == [("c-1", "v2")]


def test_a_reader_allowed_its_databases_once_reads_through_every_rebuild(
    cluster: ClusterStore, clickhouse_cluster: LocalCluster
) -> None:
    """ClickHouse 18.16 reads a Distributed table's local shard under the reader's own name, and
    its allow_databases takes no patterns: the generations are two fixed names, so a read-only
    user defined at `civicloop clickhouse up` still reads after any number of replays."""
    layout = clickhouse_cluster.layout()
    assert layout is not None
    db = f"t{uuid.uuid4().hex[:12]}"
    cluster.lay_out(db)
    reader_user = ReaderUser(f"r_{db}", uuid.uuid4().hex, reader_databases(cluster, db))
    reader = open_store(clickhouse_cluster.add_reader(reader_user), cluster=layout.name)
    latest = f"SELECT argMax(state, offset) FROM {db}.case_state WHERE case_id = 'c-1'"
    cluster.insert(f"{db}.case_state", [_state("c-1", "v0", 0)])
    cluster.on_every_node(f"SYSTEM SYNC REPLICA {cluster.local_database(db)}.case_state")
    assert reader.query(latest) == [("v0",)]
    # a readonly user cannot set the entry settings itself: its profile carries them
    settings = "SELECT name, value FROM system.settings WHERE name IN %(names)s ORDER BY name"
    assert reader.query(settings, {"names": ["load_balancing", "prefer_localhost_replica"]}) == [
        ("load_balancing", "in_order"),
        ("prefer_localhost_replica", "0"),
    ]

    target, seen, paths = rebuild_database(db), [], []
    for version, keep_old in ((1, False), (2, True), (3, False)):
        cluster.prepare_rebuild(target)
        cluster.insert(f"{target}.case_state", [_state("c-1", f"v{version}", version)])
        cluster.switch_rebuild(db, target, keep_old=keep_old)

        assert reader.query(latest) == [(f"v{version}",)], f"the reader reads rebuild {version}"
        (generation,) = cluster.generations(db)
        seen.append(generation)
        paths += cluster.query(
            "SELECT zookeeper_path FROM system.replicas WHERE database = %(db)s AND table = 'case_state'",
            {"db": generation},
        )

    assert seen == [f"{db}_g1", f"{db}_g0", f"{db}_g1"]
    assert len(set(paths)) == 3, "no rebuild's replication log reuses an earlier path"
    # the third rebuild replaced what the second kept (--keep-old): the old projections are gone
    assert cluster.generations(f"{target}_old") == set()
    reader.close()
    for database in (db, f"{target}_old", f"{db}_g0", f"{db}_g1"):
        cluster.command(f"DROP DATABASE IF EXISTS {database} ON CLUSTER {layout.name}")
