"""A local ClickHouse cluster: N shards × M replicas of Debian's clickhouse-server, plus ZooKeeper.

Every node is a :class:`LocalClickHouse` on loopback ports chosen once (the others name them in
their ``remote_servers``), with the cluster's settings in its ``config.d/``: the cluster
definition (``internal_replication``: a Distributed table writes one replica of a shard and
replication copies it), its ``{shard}`` / ``{replica}`` macros (the ZooKeeper path and replica
name of every replicated table), the interserver port replicas fetch parts from each other on,
ZooKeeper, and the ON CLUSTER DDL queue. The layout is recorded in ``cluster.json`` so that
``down``, a restart of one killed node, and ``status`` find the same ports again.
"""

from __future__ import annotations

import functools
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from civicloop import log
from civicloop.projections.store.cluster import SESSION_READ
from civicloop.tools.local.clickhouse_server import LocalClickHouse, Ports, ReaderUser
from civicloop.tools.local.process import free_port, wait_until
from civicloop.tools.local.zookeeper import LocalZooKeeper

_log = log.get(__name__)

NODE_CONFIG = """<?xml version="1.0"?>
<yandex>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <interserver_http_port>{interserver}</interserver_http_port>
  <zookeeper>
    <node><host>127.0.0.1</host><port>{zookeeper}</port></node>
    <session_timeout_ms>10000</session_timeout_ms>
  </zookeeper>
  <macros><cluster>{name}</cluster><shard>{shard}</shard><replica>{replica}</replica></macros>
  <remote_servers><{name}>{shards}</{name}></remote_servers>
  <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
</yandex>
"""
SHARD = "<shard><internal_replication>true</internal_replication>{replicas}</shard>"
REPLICA = "<replica><host>127.0.0.1</host><port>{port}</port></replica>"


@dataclass(frozen=True)
class Node:
    shard: int
    replica: int
    tcp: int
    http: int
    interserver: int

    @property
    def name(self) -> str:
        return f"s{self.shard}r{self.replica}"

    @property
    def url(self) -> str:
        return f"clickhouse://127.0.0.1:{self.tcp}/"


@dataclass(frozen=True)
class Layout:
    name: str
    zookeeper: int
    nodes: tuple[Node, ...]

    @property
    def entry(self) -> Node:
        """The node civicloop connects to (any node would do: all hold the Distributed tables)."""
        return self.nodes[0]


class LocalCluster:
    """The cluster recorded under ``directory``: start, stop, one node, and its layout."""

    def __init__(self, directory: Path, cache: Path) -> None:
        self.dir = directory
        self.zookeeper = LocalZooKeeper(directory / "zookeeper", cache)

    @property
    def layout_file(self) -> Path:
        return self.dir / "cluster.json"

    def layout(self) -> Layout | None:
        """The recorded layout, or None when no cluster was made here."""
        if not self.layout_file.exists():
            return None
        raw = json.loads(self.layout_file.read_text())
        return Layout(raw["name"], raw["zookeeper"], tuple(Node(**node) for node in raw["nodes"]))

    def node(self, node: Node) -> LocalClickHouse:
        layout = self.layout()
        assert layout is not None, "no cluster recorded"
        return LocalClickHouse(
            self.dir / node.name, Ports(node.tcp, node.http), extra_config=_node_config(layout, node)
        )

    def up(self, shards: int, replicas: int, name: str = "civicloop", timeout: float = 120.0) -> Layout:
        """Start ZooKeeper and every node (those not running yet); return the layout. A cluster
        made here before keeps its layout: ``shards``/``replicas``/``name`` must match it."""
        layout = self.layout()
        if layout is None:
            layout = self._new_layout(shards, replicas, name)
        elif (len({n.shard for n in layout.nodes}), len(layout.nodes), layout.name) != (
            shards,
            shards * replicas,
            name,
        ):
            raise ValueError(
                f"{self.dir} holds the cluster {layout.name!r} of {len(layout.nodes)} nodes, not "
                f"{shards}×{replicas} {name!r}: stop it and remove that directory to make another"
            )
        self.zookeeper.up()
        starting = [
            (server, server.start())
            for server in (self.node(node) for node in layout.nodes)
            if server.url() is None
        ]
        for server, ports in starting:
            server.wait(ports, timeout)
        self._wait_for_zookeeper(layout, timeout)
        _log.info("clickhouse_cluster_up", name=layout.name, nodes=len(layout.nodes), entry=layout.entry.url)
        return layout

    def _wait_for_zookeeper(self, layout: Layout, timeout: float) -> None:
        """Return once every node holds its ZooKeeper session.

        A node opens it lazily, after it already answers queries; Debian's ClickHouse 18.16 dies
        of a segmentation fault (a NULL pointer in ``zkutil::ZooKeeper::createImpl``) when an
        ON CLUSTER statement reaches it before that (twice in CI, on a loaded machine: the
        entry node, 15 ms after it first answered, and every later ON CLUSTER statement of the
        run then waited for a dead node). Reading ``system.zookeeper`` waits for the session
        instead (tests/component/test_cluster_zookeeper.py holds ZooKeeper still to show both)."""
        for node in layout.nodes:
            wait_until(
                functools.partial(_has_zookeeper, node.tcp),
                timeout,
                f"ClickHouse node {node.name}'s ZooKeeper session",
            )

    def add_reader(self, reader: ReaderUser) -> str:
        """Define the read-only user ``reader`` on every running node (any node can be the
        entry); return its URL on the entry node."""
        layout = self.layout()
        assert layout is not None, "no cluster recorded"
        urls = {node: self.node(node).add_reader(reader) for node in self.running()}
        return urls.get(layout.entry) or reader.url(layout.entry.url)

    def down(self) -> bool:
        """Stop every node, then ZooKeeper; True when anything was running."""
        layout = self.layout()
        if layout is None:
            return False
        # together: each node's graceful stop takes seconds (it finishes merges and replication)
        with ThreadPoolExecutor(len(layout.nodes)) as pool:
            stopped = list(pool.map(lambda node: self.node(node).down(), layout.nodes))
        return self.zookeeper.down() or any(stopped)

    def kill(self) -> None:
        """SIGKILL every node and ZooKeeper, as a crash would (the end of a test run, whose data
        is thrown away); ``up`` starts them again."""
        layout = self.layout()
        if layout is None:
            return
        for node in layout.nodes:
            self.node(node).kill()
        self.zookeeper.process.kill()

    def running(self) -> list[Node]:
        layout = self.layout()
        return [n for n in layout.nodes if self.node(n).url() is not None] if layout else []

    def _new_layout(self, shards: int, replicas: int, name: str) -> Layout:
        if shards < 1 or replicas < 1:
            raise ValueError(f"a cluster needs at least one shard and one replica, not {shards}×{replicas}")
        nodes = tuple(
            Node(shard, replica, free_port(), free_port(), free_port())
            for shard in range(1, shards + 1)
            for replica in range(1, replicas + 1)
        )
        layout = Layout(name, self.zookeeper.port(), nodes)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.layout_file.write_text(
            json.dumps({"name": name, "zookeeper": layout.zookeeper, "nodes": [asdict(n) for n in nodes]})
        )
        return layout


def _node_config(layout: Layout, node: Node) -> str:
    shards = "".join(
        SHARD.format(replicas="".join(REPLICA.format(port=n.tcp) for n in layout.nodes if n.shard == shard))
        for shard in sorted({n.shard for n in layout.nodes})
    )
    return NODE_CONFIG.format(
        name=layout.name,
        zookeeper=layout.zookeeper,
        interserver=node.interserver,
        shard=node.shard,
        replica=node.name,
        shards=shards,
    )


def _has_zookeeper(port: int) -> bool:
    from clickhouse_driver import Client

    client = Client("127.0.0.1", port=port, connect_timeout=2, send_receive_timeout=15)
    try:
        client.execute(SESSION_READ)
    except Exception:  # not yet: any of the driver's or the server's errors
        return False
    finally:
        client.disconnect()
    return True
