"""A real single-node Apache Kafka 4.x (KRaft) on loopback, from the official jars.

Maven resolves ``org.apache.kafka:kafka_2.13`` and its run-time class path from Maven Central
into the cache once (``tools/local/kafka/pom.xml``); every later start reuses those jars. The broker
runs as combined broker+controller with its data and logs under ``var/kafka``.

Its ports are chosen once, on the first start, and kept in ``var/kafka/ports.json``: a
``kafka down`` / ``kafka up`` (or a crash and a restart) brings the broker back on the same
address, so running workers and producers reconnect to it by themselves. The address is also
kept in ``var/kafka/address`` while the broker is down, so a worker started then knows where
to wait for it (``streams/kafka.py``).
"""

from __future__ import annotations

import json
import socket
import subprocess
import uuid
from pathlib import Path

from civicloop import log
from civicloop.config import Config
from civicloop.tools.local import maven
from civicloop.tools.local.process import Managed, free_port, port_free, wait_until

_log = log.get(__name__)
POM = Path(__file__).parent / "kafka" / "pom.xml"
KAFKA_VERSION = maven.version(POM, "kafka.version")


def jars(config: Config) -> Path:
    """The directory of broker jars, resolving them with Maven on first use."""
    return maven.resolve(
        POM,
        config.cache / f"kafka-{KAFKA_VERSION}",
        "set CIVICLOOP_KAFKA_BOOTSTRAP to an existing Kafka cluster",
    )


class LocalKafka:
    """The broker recorded under ``var/kafka``: start, stop, and where it listens."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.dir = config.var / "kafka"
        self.process = Managed("kafka", self.dir)

    @property
    def bootstrap_file(self) -> Path:
        return self.config.local_broker_file

    @property
    def ports_file(self) -> Path:
        return self.dir / "ports.json"

    def bootstrap(self) -> str | None:
        """host:port of the running local broker, or None."""
        if self.process.pid() is None or not self.bootstrap_file.exists():
            return None
        return self.bootstrap_file.read_text().strip()

    def up(self, timeout: float = 120.0) -> str:
        """Start the broker unless it runs already; return its bootstrap address."""
        running = self.bootstrap()
        if running:
            return running
        classpath = f"{jars(self.config)}/*"
        port, controller_port = self._ports()
        props = self._write_properties(port, controller_port)
        if not (self.dir / "data" / "meta.properties").exists():
            self._format(classpath, props)
        self.process.start(
            [
                "java",
                "-Xms256m",
                "-Xmx1g",
                "-XX:+UseG1GC",
                "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={self._write_log4j()}",
                "-cp",
                classpath,
                "kafka.Kafka",
                str(props),
            ]
        )
        address = f"127.0.0.1:{port}"
        try:
            wait_until(lambda: self._answers(address), timeout, "Kafka broker start")
        except TimeoutError:
            tail = self.process.log_tail()
            self.process.stop()
            raise RuntimeError(f"Kafka did not start within {timeout:.0f} s; log:\n{tail}") from None
        self.bootstrap_file.write_text(address)
        _log.info("kafka_up", bootstrap=address, version=KAFKA_VERSION)
        return address

    def down(self) -> bool:
        """Stop the broker; its data, ports and address stay for the next ``up``."""
        self.bootstrap_file.unlink(missing_ok=True)
        return self.process.stop(timeout=60)

    def kill(self) -> None:
        """SIGKILL the broker (a crash), leaving its files as a crash would."""
        self.process.kill()

    def _ports(self) -> tuple[int, int]:
        """The (client, controller) ports of this broker: chosen on its first start, then the
        same on every start, so clients find it again where they left it."""
        try:
            kept = json.loads(self.ports_file.read_text())
            ports = (int(kept["port"]), int(kept["controller_port"]))
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            ports = (free_port(), free_port())
            self.dir.mkdir(parents=True, exist_ok=True)
            self.ports_file.write_text(json.dumps({"port": ports[0], "controller_port": ports[1]}))
            self.config.local_broker_address_file.write_text(f"127.0.0.1:{ports[0]}")
            return ports
        taken = [p for p in ports if not port_free(p)]
        if taken:
            raise RuntimeError(
                f"the local broker's port(s) {taken}, kept in {self.ports_file}, are in use by another "
                "process: stop that process, or delete the file to choose new ports (workers and "
                "producers connected to the old address must then be restarted)"
            )
        self.config.local_broker_address_file.write_text(f"127.0.0.1:{ports[0]}")
        return ports

    def _write_properties(self, port: int, controller_port: int) -> Path:
        # The ports are this broker's for good (see _ports): clients reconnect to the same address.
        data = self.dir / "data"
        props = self.dir / "server.properties"
        self.dir.mkdir(parents=True, exist_ok=True)
        props.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    "inter.broker.listener.name=PLAINTEXT",
                    f"log.dirs={data}",
                    "num.partitions=1",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=6",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=true",
                    # Case events are kept forever (docs/DESIGN.md §6); locally the disk is the limit.
                    "log.retention.hours=-1",
                    "",
                ]
            )
        )
        return props

    def _write_log4j(self) -> Path:
        path = self.dir / "log4j2.properties"
        path.write_text(
            "\n".join(
                [
                    "rootLogger.level=WARN",
                    "rootLogger.appenderRef.stdout.ref=STDOUT",
                    "appender.stdout.type=Console",
                    "appender.stdout.name=STDOUT",
                    "appender.stdout.layout.type=PatternLayout",
                    "appender.stdout.layout.pattern=[%d] %p %m (%c)%n",
                    "logger.kafka.name=kafka.server.KafkaRaftServer",
                    "logger.kafka.level=INFO",
                    "",
                ]
            )
        )
        return path

    def _format(self, classpath: str, props: Path) -> None:
        result = subprocess.run(
            [
                "java",
                "-cp",
                classpath,
                "kafka.tools.StorageTool",
                "format",
                "--ignore-formatted",
                "-t",
                str(uuid.uuid4()),
                "-c",
                str(props),
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"Kafka storage format failed:\n{result.stdout}{result.stderr}")

    @staticmethod
    def _answers(address: str) -> bool:
        from confluent_kafka.admin import AdminClient

        host, port = address.rsplit(":", 1)
        try:
            # A plain connect first keeps librdkafka from logging refusals while Java starts.
            socket.create_connection((host, int(port)), timeout=1).close()
            AdminClient({"bootstrap.servers": address, "log_level": 0}).list_topics(timeout=5)
        except Exception:
            return False
        return True
