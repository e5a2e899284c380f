"""The readers' own ClickHouse user (CIVICLOOP_CLICKHOUSE_READER_URL), on a real 18.16 server
and the 2×2 cluster: connected to directly — civicloop's statement rules bypassed — it can read
the projection database and nothing more: no INSERT, CREATE, DROP, settings that lift readonly,
table functions, other databases, or KILL of another user's query; through civicloop it reads
as before, Distributed FINAL reads on the cluster included."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_driver import Client
from clickhouse_driver.errors import ServerException

from civicloop.api.projected import Projections
from civicloop.projections.backend import open_reader, open_store
from civicloop.projections.store.cluster import ClusterStore
from civicloop.projections.store.readonly import Refused
from civicloop.tools.local.clickhouse_cluster import LocalCluster
from civicloop.tools.local.clickhouse_server import LocalClickHouse, ReaderUser
from civicloop.tools.local.process import wait_until
from tests.conftest import make_config

pytestmark = pytest.mark.integration
READONLY, ACCESS_DENIED = 164, 291


def _reader(database: str) -> ReaderUser:
    return ReaderUser(f"r_{database}", uuid.uuid4().hex, (database,))


def _client(url: str, reader: ReaderUser) -> Client:
    """A connection as ``reader`` straight to the server: no civicloop code in between."""
    return Client(*_host_port(url), user=reader.name, password=reader.password)


def _code(client: Client, sql: str, data: list[tuple[object, ...]] | None = None, **settings: object) -> int:
    """The error code ClickHouse answers ``sql`` with (0: it ran)."""
    try:
        client.execute(sql, data, settings=settings or None)
    except ServerException as exc:
        return int(exc.code)
    return 0


@pytest.fixture
def projected(clickhouse_server: LocalClickHouse, database: str) -> Iterator[tuple[str, ReaderUser, str]]:
    """A projection database with one row, another database beside it, and a reader user."""
    url = clickhouse_server.url()
    assert url is not None
    writer = open_store(url)
    writer.command(f"CREATE DATABASE {database}")
    writer.command(f"CREATE TABLE {database}.t (x UInt8) ENGINE = MergeTree ORDER BY x")
    writer.insert(f"{database}.t", [{"x": 1}])
    writer.command(f"CREATE DATABASE {database}_other")
    writer.command(f"CREATE TABLE {database}_other.secret (x UInt8) ENGINE = MergeTree ORDER BY x")
    reader = _reader(database)
    reader_url = clickhouse_server.add_reader(reader)
    yield url, reader, reader_url
    writer.command(f"DROP DATABASE {database}")
    writer.command(f"DROP DATABASE {database}_other")
    writer.close()


def test_the_reader_user_cannot_write_or_reach_beyond_its_database_even_connected_directly(
    projected: tuple[str, ReaderUser, str], database: str
) -> None:
    url, reader, _ = projected
    client = _client(url, reader)
    assert client.execute(f"SELECT x FROM {database}.t") == [(1,)]

    refused = {
        "insert": _code(client, f"INSERT INTO {database}.t VALUES", [(2,)]),
        "insert with readonly=0 sent": _code(client, f"INSERT INTO {database}.t VALUES", [(2,)], readonly=0),
        "insert … select": _code(client, f"INSERT INTO {database}.t SELECT 3"),
        "create": _code(client, f"CREATE TABLE {database}.u (x UInt8) ENGINE = Memory"),
        "drop": _code(client, f"DROP TABLE {database}.t"),
        "alter": _code(client, f"ALTER TABLE {database}.t DELETE WHERE 1"),
        "optimize": _code(client, f"OPTIMIZE TABLE {database}.t FINAL"),
        "set readonly": _code(client, "SET readonly = 0"),
        "settings clause": _code(client, "SELECT 1 SETTINGS readonly = 0"),
        "table function": _code(client, f"SELECT * FROM remote('127.0.0.1', {database}_other.secret)"),
        "table function, readonly=2 sent": _code(client, "SELECT * FROM numbers(1)", readonly=2),
        "system": _code(client, "SYSTEM STOP MERGES"),
    }
    assert refused == dict.fromkeys(refused, READONLY)
    assert _code(client, f"SELECT * FROM {database}_other.secret") == ACCESS_DENIED
    assert _code(client, f"USE {database}_other") == ACCESS_DENIED
    assert _code(client, "SELECT * FROM default.nothing") == ACCESS_DENIED
    assert client.execute(f"SELECT count() FROM {database}.t") == [(1,)]


def test_the_reader_user_cannot_kill_the_writers_queries(
    projected: tuple[str, ReaderUser, str], database: str
) -> None:
    url, reader, _ = projected
    writer = open_store(url)
    victim = f"victim-{uuid.uuid4().hex}"
    outcome: list[object] = []

    def long_write() -> None:
        client = Client(*_host_port(url), settings={"max_block_size": 1})
        try:
            # ~3 s of a writer's statement: it must finish, whatever the reader tries meanwhile
            client.execute(
                f"INSERT INTO {database}.t SELECT toUInt8(sleep(0.5) + 7) FROM numbers(6)",
                query_id=victim,
            )
            outcome.append("done")
        except Exception as exc:  # what a cancelled query raises
            outcome.append(exc)
        finally:
            client.disconnect()

    running = threading.Thread(target=long_write)
    running.start()
    try:
        wait_until(
            lambda: bool(writer.query(f"SELECT 1 FROM system.processes WHERE query_id = '{victim}'")),
            30,
            "the writer's query running",
            interval=0.05,
        )
        client = _client(url, reader)
        code = _code(client, f"KILL QUERY WHERE query_id = '{victim}' SYNC")
    finally:
        running.join(60)
    assert code == READONLY
    assert outcome == ["done"]
    assert writer.query(f"SELECT count() FROM {database}.t") == [(7,)]
    writer.close()


def test_civicloop_reads_as_the_reader_user_and_its_rules_still_refuse(
    projected: tuple[str, ReaderUser, str], database: str, tmp_path: Path
) -> None:
    url, reader_user, reader_url = projected
    reader_name = reader_user.name
    config = make_config(tmp_path, clickhouse_url=url, clickhouse_reader_url=reader_url)
    reader = open_reader(config)
    try:
        assert reader.url == open_store(reader_url).url
        assert reader.query(f"SELECT x FROM {database}.t") == [(1,)]
        assert reader.query_readonly(f"SELECT count() FROM {database}.t") == [(1,)]
        with pytest.raises(Refused, match="'read-statements'"):
            reader.query_readonly("KILL QUERY WHERE 1 SYNC")
        with pytest.raises(Refused, match="'grants'"):
            reader.query_readonly(f"SELECT * FROM {database}_other.secret")
        # as the reader user (18.16 has no currentUser(): a query sees itself in system.processes)
        me = "SELECT user FROM system.processes WHERE query LIKE '%reader-user-probe%'"
        assert reader.query(me + " -- reader-user-probe") == [(reader_name,)]
        # and the API's reads go the same way
        assert Projections(config).query(me + " -- reader-user-probe") == [(reader_name,)]
    finally:
        reader.close()


def test_on_the_cluster_the_reader_user_reads_distributed_final_and_cannot_write(
    clickhouse_cluster: LocalCluster, tmp_path: Path
) -> None:
    layout = clickhouse_cluster.layout()
    assert layout is not None
    db = f"t{uuid.uuid4().hex[:12]}"
    writer = ClusterStore("127.0.0.1", layout.entry.tcp, layout.name)
    writer.lay_out(db)
    writer.insert(f"{db}.dead_letters", [{"topic": "t", "partition": 0, "offset": n} for n in range(10)])
    # a Distributed table is read under the reader's name on the entry node's own shard too:
    # the reader needs the generation database it names (docs/OPERATIONS.md)
    generation = writer.local_database(db)
    assert generation is not None
    reader = ReaderUser(f"r_{db}", uuid.uuid4().hex, (db, generation))
    reader_url = clickhouse_cluster.add_reader(reader)
    config = make_config(
        tmp_path,
        clickhouse_url=layout.entry.url,
        clickhouse_cluster=layout.name,
        clickhouse_reader_url=reader_url,
    )
    opened = open_reader(config)
    try:
        assert opened.query(f"SELECT count() FROM {db}.dead_letters FINAL") == [(10,)]
        client = _client(layout.entry.url, reader)
        assert _code(client, f"INSERT INTO {db}.dead_letters (topic) VALUES", [("forged",)]) == READONLY
        assert _code(client, f"ALTER TABLE {generation}.dead_letters DELETE WHERE 1") == READONLY
        assert _code(client, "SELECT count() FROM system.one") == 0
        assert _code(client, "SELECT count() FROM default.nothing") == ACCESS_DENIED
    finally:
        opened.close()
        writer.close()


def _host_port(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("clickhouse://").rstrip("/").split(":")
    return host, int(port)
