"""The backend of a deployment, decided once from its configuration: the one place that tells
chDB from a server from a cluster (docs/DESIGN.md §6).

Four kinds:

- :class:`OwnedChdb` — chDB on a directory this process holds (the worker; a command while no
  worker runs). chDB allows one process per directory.
- :class:`ChdbThroughWorker` — chDB whose directory a running worker holds: reads go to the
  worker's read-only SQL view (``store/worker.py``); writes and rebuilds are the worker's.
- :class:`Server` — one ClickHouse server.
- :class:`Cluster` — a sharded, replicated cluster entered through one of its servers
  (``store/cluster.py``, docs/CLUSTER.md).

Each opens its readers (as the readers' user when one is configured) and its writer. The writer
(a ``Store``) lays out the tables, switches a rebuild in and reads up to date its own way: one
node in ``store/single.py``, the cluster in ``store/cluster.py``. Nothing else asks which kind
it holds.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal
from urllib.parse import unquote, urlparse

from civicloop.config import Config
from civicloop.projections.store.base import Reader, Store
from civicloop.projections.store.worker import deployment_health, worker_reader

#: how a process holds a chDB directory: ``own`` it (the worker), read it always ``through`` the
#: worker (a server process that must never lock the worker out: the API), or ``ask`` whether a
#: worker of this deployment runs and go through it if so (a command)
ChdbPolicy = Literal["own", "through", "ask"]


class StoreURLError(ValueError):
    """A CIVICLOOP_CLICKHOUSE_URL that names no backend civicloop knows."""


class HeldByWorker(RuntimeError):
    """The running worker holds the chDB directory: ask it to write (``civicloop replay`` does)."""


class Backend(ABC):
    """One deployment kind: where readers and the writer connect."""

    #: which kind, by name (``chdb``, ``server``, ``cluster``): for what is told by kind, such
    #: as a test's expected figures, so nothing outside this module tells URLs or types apart
    kind: ClassVar[str]
    #: writes and rebuilds belong to the running worker, not to this process
    held_by_worker = False
    #: one process at a time may write (chDB's directory): one worker, not several
    one_writer = False

    @abstractmethod
    def open_writer(self) -> Store:
        """The store the projections are written to and laid out in."""

    @abstractmethod
    def open_reader(self) -> Reader:
        """Read-only access for analysts' commands, the API and reports."""


@dataclass(frozen=True)
class OwnedChdb(Backend):
    path: Path
    kind = "chdb"
    one_writer = True

    def open_writer(self) -> Store:
        from civicloop.projections.store.chdb import ChdbStore

        return ChdbStore(self.path)

    def open_reader(self) -> Reader:
        return self.open_writer()


@dataclass(frozen=True)
class ChdbThroughWorker(Backend):
    config: Config
    kind = "chdb"
    held_by_worker = True
    one_writer = True

    def open_writer(self) -> Store:
        raise HeldByWorker(
            f"the worker on port {self.config.worker_web_port} holds {self.config.clickhouse_url} "
            "(chDB allows one process per directory): stop it, or ask it (civicloop replay does)"
        )

    def open_reader(self) -> Reader:
        return worker_reader(self.config)


@dataclass(frozen=True)
class Address:
    """A ClickHouse server and the user to connect as."""

    host: str
    port: int
    user: str
    password: str


@dataclass(frozen=True)
class Server(Backend):
    writer: Address
    reader: Address  # CIVICLOOP_CLICKHOUSE_READER_URL's user, or the writer's
    kind = "server"

    def open_writer(self) -> Store:
        return self._open(self.writer)

    def open_reader(self) -> Reader:
        return self._open(self.reader)

    def _open(self, at: Address) -> Store:
        from civicloop.projections.store.server import ServerStore

        return ServerStore(at.host, at.port, at.user, at.password)


@dataclass(frozen=True)
class Cluster(Server):
    name: str
    kind = "cluster"

    def _open(self, at: Address) -> Store:
        from civicloop.projections.store.cluster import ClusterStore

        return ClusterStore(at.host, at.port, self.name, at.user, at.password)


def from_config(config: Config, chdb: ChdbPolicy = "ask") -> Backend:
    """The backend ``config`` names; for chDB, held as ``chdb`` says (:data:`ChdbPolicy`)."""
    found = from_url(
        config.clickhouse_url, config.home, config.clickhouse_cluster, config.clickhouse_reader_url
    )
    if isinstance(found, OwnedChdb) and (chdb == "through" or (chdb == "ask" and deployment_health(config))):
        return ChdbThroughWorker(config)
    return found


def from_url(url: str, home: Path | None = None, cluster: str = "", reader_url: str = "") -> Backend:
    """The backend ``url`` names; relative chDB paths are resolved under ``home``. With
    ``cluster`` (a server URL only), the cluster of that name, entered through that server;
    ``reader_url`` (a server's) is whom readers connect as."""
    parsed = urlparse(url)
    if cluster and parsed.scheme != "clickhouse":
        raise StoreURLError(
            f"CIVICLOOP_CLICKHOUSE_CLUSTER={cluster!r} needs a server URL: set CIVICLOOP_CLICKHOUSE_URL "
            f"to clickhouse://host:port/ of one of the cluster's nodes, not {url!r} (chDB is a single node)."
        )
    if reader_url and not (parsed.scheme == "clickhouse" and urlparse(reader_url).scheme == "clickhouse"):
        # the whole message, without the value: it holds a password
        raise StoreURLError(
            "CIVICLOOP_CLICKHOUSE_READER_URL must be clickhouse://user:password@host:port/ of a server's "
            "read-only user, with CIVICLOOP_CLICKHOUSE_URL a server too (chDB readers go through the "
            "worker, which runs them read-only already)."
        )
    if parsed.scheme == "chdb":
        path = Path(unquote(parsed.netloc + parsed.path))
        return OwnedChdb(path if path.is_absolute() else (home or Path.cwd()) / path)
    if parsed.scheme == "clickhouse":
        writer = _address(url)
        reader = _address(reader_url) if reader_url else writer
        return Cluster(writer, reader, cluster) if cluster else Server(writer, reader)
    raise StoreURLError(
        f"CIVICLOOP_CLICKHOUSE_URL={url!r}: use chdb:///absolute/dir, chdb://relative/dir "
        "or clickhouse://host:9000/"
    )


def open_store(url: str, home: Path | None = None, cluster: str = "") -> Store:
    """The writer of the backend ``url`` names (tools and tests that hold a URL, not a config)."""
    return from_url(url, home, cluster).open_writer()


def open_reader(config: Config) -> Reader:
    """A reader of this deployment's projections: the store, or the worker holding chDB."""
    return from_config(config).open_reader()


def _address(url: str) -> Address:
    parsed = urlparse(url)
    return Address(
        parsed.hostname or "localhost",
        parsed.port or 9000,
        unquote(parsed.username or "default"),
        unquote(parsed.password or ""),
    )
