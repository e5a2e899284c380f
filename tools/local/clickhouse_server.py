"""A throwaway ClickHouse server from Debian's ``clickhouse-server`` package.

Started on free loopback ports with its own config, data and log directories, so that tests
and operators can exercise the server backend without touching a system installation. A node
of a local cluster (``clickhouse_cluster.py``) is the same server on ports fixed in advance,
with the cluster's settings in ``config.d/`` (ClickHouse merges that folder into its config).

Two kinds of user: ``default``, civicloop's writer (the worker, the replay, table set-up), and
read-only users added with :meth:`LocalClickHouse.add_reader` — one file each in ``users.d/``
(merged into ``users.xml``, picked up by the running server within seconds), with the profile
``civicloop_reader``: ``readonly = 1``, which no statement and no setting a client sends can
lift (ClickHouse 18.16 refuses INSERT, DDL, SET, table functions, and KILL of another user's
query for it), and ``allow_databases``, the projection database only (18.16 has no SQL-driven
access control — no CREATE USER or GRANT — so users live in its config).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlparse

from civicloop import log
from civicloop.projections.store.cluster import READ_SETTINGS
from civicloop.tools.local.process import Managed, free_port, wait_until

_log = log.get(__name__)
SERVER_BINARIES = ("/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server")

CONFIG = """<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{dir}/log/server.log</log>
    <errorlog>{dir}/log/error.log</errorlog><size>10M</size><count>1</count></logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>{tcp_port}</tcp_port>
  <http_port>{http_port}</http_port>
  <path>{dir}/data/</path>
  <tmp_path>{dir}/tmp/</tmp_path>
  <user_files_path>{dir}/data/user_files/</user_files_path>
  <format_schema_path>{dir}/data/format_schemas/</format_schema_path>
  <mark_cache_size>268435456</mark_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <users_config>users.xml</users_config>
</yandex>
"""

USERS = """<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>8000000000</max_memory_usage></default></profiles>
  <users><default><password></password>
    <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
    <profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
"""


READER_PROFILE = READER_USER = "civicloop_reader"
#: A user with ``readonly = 1`` cannot change a setting, and 18.16 then silently ignores the
#: settings a connection sends: the cluster store's entry settings (which replica answers; the
#: entry node's own shard over a connection) go in the reader's profile instead. On a single
#: server they change nothing.
READER_SETTINGS = "".join(f"<{name}>{value}</{name}>" for name, value in READ_SETTINGS.items())
READER = """<?xml version="1.0"?>
<yandex>
  <profiles><{profile}><readonly>1</readonly>{settings}</{profile}></profiles>
  <users><{name}><password_sha256_hex>{digest}</password_sha256_hex>
    <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
    <profile>{profile}</profile><quota>default</quota>
    <allow_databases>{databases}</allow_databases></{name}></users>
</yandex>
"""


@dataclass(frozen=True)
class ReaderUser:
    """A ClickHouse user that may only read ``databases`` (``system`` stays readable: 18.16
    always allows it)."""

    name: str
    password: str
    databases: tuple[str, ...]

    def xml(self) -> str:
        """The ``users.d/`` file that defines the user (its password only as a SHA-256)."""
        return READER.format(
            profile=READER_PROFILE,
            settings=READER_SETTINGS,
            name=self.name,
            digest=hashlib.sha256(self.password.encode()).hexdigest(),
            databases="".join(f"<database>{db}</database>" for db in self.databases),
        )

    def url(self, server_url: str) -> str:
        """``server_url`` (clickhouse://host:port/) with this user's credentials."""
        where = urlparse(server_url)
        return f"clickhouse://{quote(self.name, safe='')}:{quote(self.password, safe='')}@{where.netloc}/"


def deployment_reader(directory: Path, databases: tuple[str, ...]) -> ReaderUser:
    """The reader user ``civicloop clickhouse up`` defines for the server or cluster under
    ``directory``, allowed ``databases``: its password is made once and kept there (0600), so a
    configured CIVICLOOP_CLICKHOUSE_READER_URL keeps working across restarts."""
    path = directory / "reader.password"
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(24))
    return ReaderUser(READER_USER, path.read_text().strip(), databases)


def server_binary() -> str:
    """Path of clickhouse-server, or a RuntimeError saying how to install it."""
    for candidate in (*SERVER_BINARIES, shutil.which("clickhouse-server") or ""):
        if candidate and Path(candidate).exists():
            return candidate
    raise RuntimeError(
        "clickhouse-server is not installed: `make clickhouse-server` installs Debian's "
        "package as root (apt-get install clickhouse-server), or set CIVICLOOP_CLICKHOUSE_URL "
        "to an existing server."
    )


@dataclass(frozen=True)
class Ports:
    tcp: int
    http: int


class LocalClickHouse:
    """A ClickHouse server owned by civicloop under ``directory``: on free ports chosen at each
    start, or on ``ports``; ``extra_config`` (XML) goes to ``config.d/`` when given."""

    def __init__(self, directory: Path, ports: Ports | None = None, extra_config: str = "") -> None:
        self.dir = directory
        self.ports = ports
        self.extra_config = extra_config
        self.process = Managed("clickhouse", directory)

    @property
    def url_file(self) -> Path:
        return self.dir / "url"

    def url(self) -> str | None:
        if self.process.pid() is None or not self.url_file.exists():
            return None
        return self.url_file.read_text().strip()

    def up(self, timeout: float = 60.0) -> str:
        """Start the server unless it runs already; return its clickhouse:// URL."""
        return self.url() or self.wait(self.start(), timeout)

    def start(self) -> Ports:
        """Start the server process without waiting for it (see ``wait``)."""
        binary = server_binary()
        ports = self.ports or Ports(free_port(), free_port())
        for sub in ("data", "tmp", "log", "config.d", "users.d"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        config = self.dir / "config.xml"
        config.write_text(CONFIG.format(dir=self.dir, tcp_port=ports.tcp, http_port=ports.http))
        (self.dir / "users.xml").write_text(USERS)
        if self.extra_config:
            (self.dir / "config.d" / "civicloop.xml").write_text(self.extra_config)
        self.process.start([binary, f"--config-file={config}"], cwd=self.dir)
        return ports

    def wait(self, ports: Ports, timeout: float = 60.0) -> str:
        """Wait until the server started on ``ports`` answers; return its URL."""
        try:
            wait_until(lambda: _accepts(ports.tcp), timeout, "ClickHouse server start")
        except TimeoutError:
            tail = self.process.log_tail() + _read(self.dir / "log" / "error.log")
            self.process.stop()
            raise RuntimeError(f"ClickHouse server did not start; log:\n{tail}") from None
        url = f"clickhouse://127.0.0.1:{ports.tcp}/"
        self.url_file.write_text(url)
        _log.info("clickhouse_server_up", url=url)
        return url

    def add_reader(self, reader: ReaderUser, timeout: float = 30.0) -> str:
        """Define ``reader`` on the running server (its own file in ``users.d/``, private to
        this user) and return its URL once the server lets it in."""
        url = self.url()
        if url is None:
            raise RuntimeError(f"no ClickHouse server runs under {self.dir}")
        users = self.dir / "users.d"
        users.mkdir(parents=True, exist_ok=True)
        path = users / f"{reader.name}.xml"
        path.write_text(reader.xml())
        os.chmod(path, 0o600)
        port = urlparse(url).port or 9000
        wait_until(
            lambda: _accepts(port, reader.name, reader.password),
            timeout,
            f"ClickHouse user {reader.name} known to the server",
        )
        return reader.url(url)

    def down(self) -> bool:
        self.url_file.unlink(missing_ok=True)
        return self.process.stop()

    def kill(self) -> None:
        """SIGKILL, as a crash would (tests of a replica's loss); ``up`` restarts it."""
        self.url_file.unlink(missing_ok=True)
        self.process.kill()


def _accepts(port: int, user: str = "default", password: str = "") -> bool:
    """The server answers a query of ``user`` (an open port alone comes before it is ready)."""
    from clickhouse_driver import Client

    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        client = Client(
            "127.0.0.1", port=port, user=user, password=password, connect_timeout=2, send_receive_timeout=5
        )
        client.execute("SELECT 1")
        client.disconnect()
    except Exception:
        return False
    return True


def _read(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:] if path.exists() else ""
