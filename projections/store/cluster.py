"""The cluster backend: a sharded, replicated ClickHouse cluster through one entry node.

Every node holds, per civicloop table, a replicated local table (``Replicated…MergeTree``, in a
*generation* database) and a ``Distributed`` table of the same name in the database readers
use (``projections/tables/cluster.py`` makes them). Through the entry node:

- **writes** go into the Distributed tables with ``insert_distributed_sync=1``: the insert
  returns once every row is stored on a replica of the shard that owns it (rows are sharded by
  ``cityHash64(case_id)``), and replication copies it to the shard's other replicas;
- **reads** go through the Distributed tables too: each shard answers for its own cases, so
  ``FINAL`` and ``argMax`` stay exact (a case lives on one shard);
- **DDL** runs ``ON CLUSTER``: ClickHouse queues it in ZooKeeper and every node runs it.

Replication is asynchronous: a replica may lag behind a write acknowledged a moment ago by
its partner. Reads go to each shard's first healthy replica (``in_order``), the one writes go
to, so in the healthy state they see every write; after a failover they may not, until the
replicas catch up. Analysts can live with that; the worker cannot — it folds each event onto
the case's stored state, and an older state would lose events. So
:meth:`ClusterStore.query_caught_up` reads straight from, per shard, a replica that provably
holds every write acknowledged so far: one that has pulled the whole replication log from
ZooKeeper and has no part left to fetch (``system.replicas``). When no replica of a shard
qualifies — its only up-to-date replica died before the others copied its last parts — it
raises, and the worker retries the batch until one does (docs/CLUSTER.md).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from civicloop import log
from civicloop.projections.store.base import Params, Row
from civicloop.projections.store.server import ServerStore

_log = log.get(__name__)
#: settings of the entry connection. ``insert_distributed_sync``: a write returns only when
#: its rows are stored on their shards. ``load_balancing='in_order'``: writes and reads of a
#: shard go to its first healthy replica, so what ``--wait`` saw written is what a read then
#: sees (another replica may lag by the replication delay); the others are hot standbys.
#: ``prefer_localhost_replica=0``: the entry node reaches its own shard like the others, over a
#: connection; in-process, ClickHouse 18.16 fails a Distributed ``SELECT … FINAL`` without
#: aggregation ("Cannot find column version in source stream"), like the watchdog's query.
#: (A read-only user cannot set them: its profile must, tools/local/clickhouse_server.py.)
READ_SETTINGS = {"load_balancing": "in_order", "prefer_localhost_replica": 0}
ENTRY_SETTINGS = {"insert_distributed_sync": 1, **READ_SETTINGS}
#: a read that waits until the node holds its ZooKeeper session (it opens it lazily), or fails
SESSION_READ = "SELECT count() FROM system.zookeeper WHERE path = '/'"
_DISTRIBUTED = re.compile(r"Distributed\(\s*'?(\w+)'?\s*,\s*'?(\w+)'?\s*,\s*'?(\w+)'?")


class ReplicasBehind(RuntimeError):
    """No reachable replica of a shard holds every acknowledged write yet (retry later)."""


class ClusterMissing(RuntimeError):
    """The entry node does not know the configured cluster, or a node cannot be reached."""


@dataclass(frozen=True)
class Node:
    shard: int
    replica: int
    host: str
    port: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


class ClusterStore:
    """A :class:`Store` over the cluster ``cluster``, entered through the server at host:port."""

    sharded = True

    def __init__(self, host: str, port: int, cluster: str, user: str = "default", password: str = "") -> None:
        self.cluster = cluster
        self._credentials = (user, password)
        self._entry = ServerStore(host, port, user, password, settings=ENTRY_SETTINGS)
        self.url = self._entry.url
        self._connections: dict[Node, ServerStore] = {}
        self._nodes: list[Node] = []

    # -- the Store interface, through the entry node ---------------------------------------

    def command(self, sql: str, params: Params | None = None) -> None:
        if " ON CLUSTER " in sql:
            self._wait_for_zookeeper()
        self._entry.command(sql, params)

    def query(self, sql: str, params: Params | None = None) -> list[Row]:
        return self._entry.query(sql, params)

    def query_readonly(self, sql: str) -> list[Row]:
        """SQL written elsewhere, through the entry node under ``readonly = 1`` (docs/TRUST.md)."""
        return self._entry.query_readonly(sql)

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
        return self._entry.insert(table, rows)

    def insert_arrow(self, table: str, data: pa.Table) -> int:
        return self._entry.insert_arrow(table, data)

    def server_version(self) -> str:
        return self._entry.server_version()

    def close(self) -> None:
        self._entry.close()
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()

    # -- the layout duties, the cluster's way (``tables/cluster.py``) -----------------------

    def lay_out(self, database: str) -> None:
        """Replicated tables in a generation and Distributed tables over them, on every node."""
        from civicloop.projections.tables import cluster  # it builds on this module

        cluster.ensure(self, database)

    def prepare_rebuild(self, target: str) -> None:
        """The rebuild's tables, in the generation the live tables do not name."""
        from civicloop.projections.tables import cluster

        cluster.prepare(self, target)

    def switch_rebuild(self, live: str, new: str, keep_old: bool = False) -> str:
        """Re-point the Distributed tables at the rebuilt generation, one RENAME per node."""
        from civicloop.projections.tables import cluster

        return cluster.switch(self, live, new, keep_old)

    def drop_database(self, database: str) -> None:
        """Drop ``database`` and the generation its Distributed tables read, on every node."""
        generation = self.local_database(database)
        for name in (database, generation):
            if name:
                self.command(f"DROP DATABASE IF EXISTS {name} ON CLUSTER {self.cluster}")

    # -- the cluster -----------------------------------------------------------------------

    def _wait_for_zookeeper(self) -> None:
        """Let the entry node open its ZooKeeper session before it queues a statement ON CLUSTER.

        A node opens the session lazily, and ClickHouse 18.16 dies of a segmentation fault (a
        NULL pointer in ``zkutil::ZooKeeper::createImpl``) when an ON CLUSTER statement reaches
        it first: a node restarted a moment ago, or one whose ZooKeeper answered slowly. Reading
        ``system.zookeeper`` waits for the session, or fails with ZooKeeper's error, which
        the caller gets instead of a dead node."""
        try:
            self._entry.query(SESSION_READ)
        except Exception as error:
            raise ClusterMissing(
                f"the entry node {self.url} has no ZooKeeper session, so nothing runs ON CLUSTER "
                f"({str(error).splitlines()[0]})"
            ) from error

    def nodes(self) -> list[Node]:
        """Every node of the cluster, by shard then replica, as the entry node defines it."""
        if not self._nodes:
            found = self._entry.query(
                "SELECT shard_num, replica_num, host_name, port FROM system.clusters "
                "WHERE cluster = %(cluster)s ORDER BY shard_num, replica_num",
                {"cluster": self.cluster},
            )
            if not found:
                raise ClusterMissing(
                    f"CIVICLOOP_CLICKHOUSE_CLUSTER={self.cluster!r}: the server at {self.url} has no "
                    "such cluster in its remote_servers; name one that `SELECT DISTINCT cluster "
                    "FROM system.clusters` lists there"
                )
            self._nodes = [Node(int(s), int(r), str(h), int(p)) for s, r, h, p in found]
        return self._nodes

    def node(self, node: Node) -> ServerStore:
        """A connection to one node (opened on first use, kept)."""
        if node not in self._connections:
            user, password = self._credentials
            self._connections[node] = ServerStore(node.host, node.port, user, password)
        return self._connections[node]

    def on_every_node(self, sql: str, params: Params | None = None) -> None:
        """Run ``sql`` on each node in turn (statements ON CLUSTER cannot express)."""
        for node in self.nodes():
            self.node(node).command(sql, params)

    def unreachable(self) -> list[Node]:
        """The nodes that do not answer right now."""
        down = []
        for node in self.nodes():
            try:
                self.node(node).query("SELECT 1")
            except Exception:
                self._drop(node)
                down.append(node)
        return down

    def local_database(self, database: str) -> str | None:
        """The generation database the Distributed tables of ``database`` read, or None when
        ``database`` has none (read from the tables' engine, the one place it is stated)."""
        found = sorted(self.generations(database))
        return found[0] if found else None

    def generations(self, database: str) -> set[str]:
        """Every generation database the Distributed tables of ``database`` name (one, or none)."""
        found = self._entry.query(
            "SELECT engine_full FROM system.tables WHERE database = %(db)s AND engine = 'Distributed'",
            {"db": database},
        )
        return {m.group(2) for (engine,) in found if (m := _DISTRIBUTED.search(str(engine)))}

    def query_caught_up(
        self, database: str, table: str, select: str, params: Params | None = None, timeout: float = 30.0
    ) -> list[Row]:
        """``select`` (naming the table as ``{table}``) on one caught-up replica of every shard,
        reading its local table of ``database``.``table``; the rows of all shards together.
        Raises :class:`ReplicasBehind` when a shard has no such replica within ``timeout``."""
        local = self.local_database(database)
        if local is None:
            raise ClusterMissing(f"{database} has no Distributed tables on {self.url}: run the worker once")
        sql = select.replace("{table}", f"{local}.{table}")
        rows: list[Row] = []
        for replicas in self._shards().values():
            replica = self._caught_up(replicas, local, table, timeout)
            rows.extend(self.node(replica).query(sql, params))
        return rows

    def _shards(self) -> dict[int, list[Node]]:
        shards: dict[int, list[Node]] = {}
        for node in self.nodes():
            shards.setdefault(node.shard, []).append(node)
        return shards

    def _caught_up(self, replicas: list[Node], database: str, table: str, timeout: float) -> Node:
        deadline = time.monotonic() + timeout
        while True:
            for node in replicas:
                if self._has_every_write(node, database, table):
                    return node
            if time.monotonic() > deadline:
                names = ", ".join(n.address for n in replicas)
                raise ReplicasBehind(
                    f"no replica of shard {replicas[0].shard} ({names}) holds every write of "
                    f"{database}.{table} after {timeout:.0f} s: one that does is down or its "
                    "replication is stuck (system.replicas, system.replication_queue)"
                )
            time.sleep(0.02)  # a log entry is pulled within milliseconds of its insert

    def _has_every_write(self, node: Node, database: str, table: str) -> bool:
        """The replica has pulled the whole replication log and fetched every part it names:
        it holds every insert acknowledged on any replica of its shard before this check.

        Both facts are read from ZooKeeper, in this order. A replica pulls log entries into its
        queue and moves its ``log_pointer`` in one ZooKeeper transaction, and removes a fetch
        from the queue only once the part is stored; so a pointer past the log's end, then a
        queue without fetches, proves it. (``system.replicas`` reads its in-memory queue
        counters *before* the pointer, so a pull landing between the two reads would look
        caught up with a fetch still to do.)"""
        try:
            connection = self.node(node)
            found = connection.query(
                "SELECT is_readonly, is_session_expired, log_pointer, log_max_index, zookeeper_path, "
                "replica_path FROM system.replicas WHERE database = %(db)s AND table = %(table)s",
                {"db": database, "table": table},
            )
            if not found:
                return False
            readonly, expired, pointer, max_index, path, replica_path = found[0]
            if readonly or expired:
                return False
            if pointer or max_index:
                pulled = pointer > max_index
            else:
                # 0 and 0: an empty log, or one entry (index 0) not pulled yet; ask ZooKeeper.
                ((entries,),) = connection.query(
                    "SELECT count() FROM system.zookeeper WHERE path = %(log)s", {"log": f"{path}/log"}
                )
                pulled = int(entries) == 0
            if not pulled:
                return False
            ((fetches,),) = connection.query(
                "SELECT count() FROM system.zookeeper "
                "WHERE path = %(queue)s AND position(value, %(get)s) > 0",
                {"queue": f"{replica_path}/queue", "get": "\nget\n"},
            )
            return int(fetches) == 0
        except Exception as exc:
            _log.warning("replica_unavailable", node=node.address, error=str(exc).splitlines()[0][:200])
            self._drop(node)
            return False

    def _drop(self, node: Node) -> None:
        connection = self._connections.pop(node, None)
        if connection is not None:
            try:
                connection.close()
            except Exception:
                pass
