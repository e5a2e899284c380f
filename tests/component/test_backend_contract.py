"""One contract, every backend (the eventsourcing library's pattern: an abstract test class, one
subclass per backend): chDB, one server, the 2×2 cluster, each made by the one factory
(``projections/backend.py``) from a configuration. Each backend is the kind its configuration
names, opens a writer that lays out civicloop's tables (and again, harmlessly), reads back what
it wrote with FINAL exact, reads a case's latest state up to date, switches a rebuild in for
readers with the old tables gone, drops a database, keeps readers to one plain read, and opens
readers that see what the writer wrote. The backend-specific ways (replicated generations and
Distributed tables, ``RENAME`` of a single node, caught-up replicas) are the subject of their own
tests; this is what every backend promises the rest of civicloop."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from civicloop.projections import backend, rebuild
from civicloop.projections.backend import Backend
from civicloop.projections.state_store import StateStore
from civicloop.projections.store.base import Store
from civicloop.projections.store.readonly import Refused
from civicloop.projections.tables import schema
from civicloop.tools.local.clickhouse_cluster import LocalCluster
from tests.conftest import make_config

pytestmark = pytest.mark.integration


def _state(case_id: str, state: str, offset: int) -> dict[str, object]:
    return {"case_id": case_id, "state": state, "partition": 0, "offset": offset}


def _text(value: object) -> str:
    """A stored state as text (the column is a String; drivers hand it back as str or bytes)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def _tables(store: Store, database: str) -> set[str]:
    found = store.query("SELECT name FROM system.tables WHERE database = %(db)s", {"db": database})
    return {str(name) for (name,) in found}


class BackendContract:
    """What every backend does; a subclass gives the ``made`` fixture (the factory's backend)
    and names the kind it must be."""

    kind: type[Backend]

    @pytest.fixture
    def database(self) -> str:
        return f"t{uuid.uuid4().hex[:12]}"

    @pytest.fixture
    def store(self, made: Backend) -> Iterator[Store]:
        opened = made.open_writer()
        yield opened
        opened.close()

    def test_is_the_kind_its_configuration_names(self, made: Backend) -> None:
        assert type(made) is self.kind
        assert not made.held_by_worker

    def test_readers_see_what_the_writer_wrote(self, made: Backend, database: str) -> None:
        writer = made.open_writer()
        writer.lay_out(database)
        writer.insert(f"{database}.case_state", [_state("c-1", "v1", 1), _state("c-2", "v1", 1)])
        writer.close()  # chDB: one session on a directory at a time
        reader = made.open_reader()
        try:
            assert reader.query(f"SELECT count() FROM {database}.case_state FINAL") == [(2,)]
            assert reader.query_readonly(f"SELECT count() FROM {database}.case_state") == [(2,)]
        finally:
            reader.close()

    def test_drops_a_database_with_its_tables(self, store: Store, database: str) -> None:
        store.lay_out(database)
        store.drop_database(database)
        assert not _tables(store, database)
        store.lay_out(database)  # and lays it out again from nothing
        assert store.query(f"SELECT count() FROM {database}.case_state") == [(0,)]

    def test_lays_out_every_table_and_again_harmlessly(self, store: Store, database: str) -> None:
        store.lay_out(database)
        store.lay_out(database)
        assert set(schema.NAMES) <= _tables(store, database)
        for table in schema.NAMES:
            assert store.query(f"SELECT count() FROM {database}.{table}") == [(0,)]

    def test_reads_back_its_writes_with_final_exact(self, store: Store, database: str) -> None:
        store.lay_out(database)
        store.insert(f"{database}.case_state", [_state(f"c-{n}", "v1", 1) for n in range(20)])
        store.insert(f"{database}.case_state", [_state(f"c-{n}", "v2", 2) for n in range(10)])
        rows = store.query(
            f"SELECT state, count() FROM {database}.case_state FINAL GROUP BY state ORDER BY state"
        )
        assert rows == [("v1", 10), ("v2", 10)]

    def test_reads_each_case_latest_state_up_to_date(self, store: Store, database: str) -> None:
        store.lay_out(database)
        store.insert(f"{database}.case_state", [_state("c-1", "v1", 1), _state("c-2", "w1", 1)])
        store.insert(f"{database}.case_state", [_state("c-1", "v2", 5)])
        stored = StateStore(store, database).stored(["c-1", "c-2", "c-unknown"])
        latest = {str(row[0]): (_text(row[1]), int(row[3])) for row in stored}
        assert latest == {"c-1": ("v2", 5), "c-2": ("w1", 1)}

    def test_switches_a_rebuild_in_for_readers(self, store: Store, database: str) -> None:
        store.lay_out(database)
        store.insert(f"{database}.case_state", [_state("old", "v1", 1)])
        target = rebuild.rebuild_database(database)
        store.prepare_rebuild(target)
        store.insert(f"{target}.case_state", [_state("new", "v1", 1)])

        store.switch_rebuild(database, target)

        assert store.query(f"SELECT case_id FROM {database}.case_state FINAL") == [("new",)]
        assert set(schema.NAMES) <= _tables(store, database)
        assert not _tables(store, f"{target}_old")

    def test_keeps_readers_to_one_plain_read(self, store: Store, database: str) -> None:
        store.lay_out(database)
        store.insert(f"{database}.case_state", [_state("c-1", "v1", 1)])
        assert store.query_readonly(f"SELECT count() FROM {database}.case_state") == [(1,)]
        for sql in ("KILL QUERY WHERE 1 SYNC", f"OPTIMIZE TABLE {database}.case_state FINAL", "USE system"):
            with pytest.raises(Refused, match="refused by the rule 'read-statements'"):
                store.query_readonly(sql)
        with pytest.raises(Refused):
            store.query_readonly(f"INSERT INTO {database}.case_state (case_id) SELECT 'forged'")
        assert store.query(f"SELECT count() FROM {database}.case_state") == [(1,)]


class TestChdb(BackendContract):
    kind = backend.OwnedChdb

    @pytest.fixture
    def made(self, tmp_path: Path) -> Backend:
        # no worker of this deployment runs, so a command holds the directory itself
        return backend.from_config(make_config(tmp_path, clickhouse_url=f"chdb://{tmp_path / 'chdb'}"))


class TestServer(BackendContract):
    kind = backend.Server

    @pytest.fixture
    def made(self, clickhouse_server_url: str, tmp_path: Path) -> Backend:
        return backend.from_config(make_config(tmp_path, clickhouse_url=clickhouse_server_url))


class TestCluster(BackendContract):
    kind = backend.Cluster

    @pytest.fixture
    def made(self, clickhouse_cluster: LocalCluster, tmp_path: Path) -> Backend:
        layout = clickhouse_cluster.layout()
        assert layout is not None
        return backend.from_config(
            make_config(tmp_path, clickhouse_url=layout.entry.url, clickhouse_cluster=layout.name)
        )
