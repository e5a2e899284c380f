"""A single-node Apache ZooKeeper on loopback, from the official jars (Java 17).

A ClickHouse cluster keeps its replication log and its ON CLUSTER DDL queue in ZooKeeper.
Maven resolves ``org.apache.zookeeper:zookeeper`` once into the cache
(``tools/local/zookeeper/pom.xml``); the server runs standalone with its data under the
directory it is given, on a free port chosen at the first start and kept for later ones
(ClickHouse nodes name it in their configuration).
"""

from __future__ import annotations

import socket
from pathlib import Path

from civicloop import log
from civicloop.tools.local import maven
from civicloop.tools.local.process import Managed, free_port, wait_until

_log = log.get(__name__)
POM = Path(__file__).parent / "zookeeper" / "pom.xml"
VERSION = maven.version(POM, "zookeeper.version")


def jars(cache: Path) -> Path:
    """The directory of ZooKeeper's jars, resolved by Maven on first use."""
    return maven.resolve(POM, cache / f"zookeeper-{VERSION}", "point civicloop at an existing cluster")


class LocalZooKeeper:
    """The ZooKeeper recorded under ``directory``: start, stop, and where it listens."""

    def __init__(self, directory: Path, cache: Path) -> None:
        self.dir = directory
        self.cache = cache
        self.process = Managed("zookeeper", directory)

    @property
    def port_file(self) -> Path:
        return self.dir / "port"

    def port(self) -> int:
        """The client port: chosen once, then the same on every start."""
        if not self.port_file.exists():
            self.dir.mkdir(parents=True, exist_ok=True)
            self.port_file.write_text(str(free_port()))
        return int(self.port_file.read_text())

    def up(self, timeout: float = 60.0) -> int:
        """Start ZooKeeper unless it runs already; return its client port."""
        port = self.port()
        if self.process.pid() is not None:
            return port
        classpath = f"{jars(self.cache)}/*"
        config = self._write_config(port)
        self.process.start(
            [
                "java",
                "-Xms64m",
                "-Xmx256m",
                "-Djava.awt.headless=true",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                "-Dzookeeper.admin.enableServer=false",
                "-cp",
                classpath,
                "org.apache.zookeeper.server.quorum.QuorumPeerMain",
                str(config),
            ]
        )
        try:
            wait_until(lambda: self._ready(port), timeout, "ZooKeeper start")
        except TimeoutError:
            tail = self.process.log_tail()
            self.process.stop()
            raise RuntimeError(f"ZooKeeper did not start within {timeout:.0f} s; log:\n{tail}") from None
        _log.info("zookeeper_up", port=port, version=VERSION)
        return port

    def down(self) -> bool:
        return self.process.stop()

    def _ready(self, port: int) -> bool:
        if self.process.pid() is None:
            raise RuntimeError(f"ZooKeeper exited during start-up; log:\n{self.process.log_tail()}")
        return _answers(port)

    def _write_config(self, port: int) -> Path:
        data = self.dir / "data"
        data.mkdir(parents=True, exist_ok=True)
        config = self.dir / "zoo.cfg"
        config.write_text(
            "\n".join(
                [
                    "tickTime=2000",
                    f"dataDir={data}",
                    f"clientPort={port}",
                    "clientPortAddress=127.0.0.1",
                    "maxClientCnxns=0",
                    # ClickHouse sessions: up to 20 ticks, so a killed node's session ends soon.
                    "maxSessionTimeout=40000",
                    "4lw.commands.whitelist=srvr",
                    # Old snapshots and logs are purged hourly, keeping three.
                    "autopurge.snapRetainCount=3",
                    "autopurge.purgeInterval=1",
                    "",
                ]
            )
        )
        return config


def _answers(port: int) -> bool:
    """ZooKeeper reports its mode to ``srvr`` once it serves requests (an open port alone, or
    ``ruok``, comes before that)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"srvr")
            return b"Mode:" in sock.recv(4096)
    except OSError:
        return False
