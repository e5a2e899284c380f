"""One contract, every backend (the eventsourcing library's pattern: an abstract test class, one
subclass per backend): chDB, one server, the 2×2 cluster. Each lays out civicloop's tables (and
again, harmlessly), reads back what it wrote with FINAL exact, reads a case's latest state up to
date, switches a rebuild in for readers with the old tables gone, and keeps readers to one plain
read. The backend-specific ways (replicated generations and Distributed tables, ``RENAME`` of a
single node, caught-up replicas) are the subject of their own tests; this is what every backend
promises the rest of civicloop."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from civicloop.projections import rebuild
from civicloop.projections.state_store import StateStore
from civicloop.projections.store.base import Store, open_store
from civicloop.projections.store.readonly import Refused
from civicloop.projections.tables import schema
from civicloop.tools.local.clickhouse_cluster import LocalCluster

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
    """What every backend does; a subclass gives the ``store`` fixture."""

    @pytest.fixture
    def database(self) -> str:
        return f"t{uuid.uuid4().hex[:12]}"

    def test_lays_out_every_table_and_again_harmlessly(self, store: Store, database: str) -> None:
        schema.ensure(store, database)
        schema.ensure(store, database)
        assert set(schema.NAMES) <= _tables(store, database)
        for table in schema.NAMES:
            assert store.query(f"SELECT count() FROM {database}.{table}") == [(0,)]

    def test_reads_back_its_writes_with_final_exact(self, store: Store, database: str) -> None:
        schema.ensure(store, database)
        store.insert(f"{database}.case_state", [_state(f"c-{n}", "v1", 1) for n in range(20)])
        store.insert(f"{database}.case_state", [_state(f"c-{n}", "v2", 2) for n in range(10)])
        rows = store.query(
            f"SELECT state, count() FROM {database}.case_state FINAL GROUP BY state ORDER BY state"
        )
        assert rows == [("v1", 10), ("v2", 10)]

    def test_reads_each_case_latest_state_up_to_date(self, store: Store, database: str) -> None:
        schema.ensure(store, database)
        store.insert(f"{database}.case_state", [_state("c-1", "v1", 1), _state("c-2", "w1", 1)])
        store.insert(f"{database}.case_state", [_state("c-1", "v2", 5)])
        stored = StateStore(store, database).stored(["c-1", "c-2", "c-unknown"])
        latest = {str(row[0]): (_text(row[1]), int(row[3])) for row in stored}
        assert latest == {"c-1": ("v2", 5), "c-2": ("w1", 1)}

    def test_switches_a_rebuild_in_for_readers(self, store: Store, database: str) -> None:
        schema.ensure(store, database)
        store.insert(f"{database}.case_state", [_state("old", "v1", 1)])
        target = rebuild.rebuild_database(database)
        rebuild.prepare(store, target)
        store.insert(f"{target}.case_state", [_state("new", "v1", 1)])

        rebuild.switch(store, database, target)

        assert store.query(f"SELECT case_id FROM {database}.case_state FINAL") == [("new",)]
        assert set(schema.NAMES) <= _tables(store, database)
        assert not _tables(store, f"{target}_old")

    def test_keeps_readers_to_one_plain_read(self, store: Store, database: str) -> None:
        schema.ensure(store, database)
        store.insert(f"{database}.case_state", [_state("c-1", "v1", 1)])
        assert store.query_readonly(f"SELECT count() FROM {database}.case_state") == [(1,)]
        for sql in ("KILL QUERY WHERE 1 SYNC", f"OPTIMIZE TABLE {database}.case_state FINAL", "USE system"):
            with pytest.raises(Refused, match="refused by the rule 'read-statements'"):
                store.query_readonly(sql)
        with pytest.raises(Refused):
            store.query_readonly(f"INSERT INTO {database}.case_state (case_id) SELECT 'forged'")
        assert store.query(f"SELECT count() FROM {database}.case_state") == [(1,)]


class TestChdb(BackendContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[Store]:
        opened = open_store(f"chdb://{tmp_path / 'chdb'}")
        yield opened
        opened.close()


class TestServer(BackendContract):
    @pytest.fixture
    def store(self, clickhouse_server_url: str) -> Iterator[Store]:
        opened = open_store(clickhouse_server_url)
        yield opened
        opened.close()


class TestCluster(BackendContract):
    @pytest.fixture
    def store(self, clickhouse_cluster: LocalCluster) -> Iterator[Store]:
        layout = clickhouse_cluster.layout()
        assert layout is not None
        opened = open_store(layout.entry.url, cluster=layout.name)
        yield opened
        opened.close()
