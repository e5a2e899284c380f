"""SQL written outside civicloop runs under ClickHouse's read-only enforcement, on chDB, the
server and the 2×2 cluster: what writes, reaches files, URLs or other databases, or hides a
second statement is refused with a clear error, and nothing changes; what is not a plain read
(KILL, USE, SET, SYSTEM, OPTIMIZE, FORMAT …) is refused naming the rule it breaks."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from civicloop.projections.backend import open_store
from civicloop.projections.store.base import Store
from civicloop.projections.store.readonly import QueryFailed, Refused
from civicloop.tools.local.clickhouse_cluster import LocalCluster

pytestmark = pytest.mark.integration


@pytest.fixture
def table(store: Store, database: str) -> str:
    store.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    store.command(f"CREATE TABLE {database}.t (x UInt8) ENGINE = MergeTree ORDER BY x")
    store.insert(f"{database}.t", [{"x": 1}, {"x": 2}])
    return f"{database}.t"


@pytest.fixture
def secrets(tmp_path: Path) -> Path:
    """A SQLite file standing for the key store."""
    path = tmp_path / "keys.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE reporter_keys (key_id TEXT, key BLOB)")
    db.execute("INSERT INTO reporter_keys VALUES ('k', x'00ff')")
    db.commit()
    db.close()
    return path


def hostile(table: str, secrets: Path, out: Path) -> dict[str, str]:
    """Statements no reader may run, and a word the refusal must contain."""
    return {
        "file table function": f"SELECT * FROM file('{secrets}', 'LineAsString')",
        "file function": f"SELECT file('{secrets}')",
        "sqlite table function": f"SELECT * FROM sqlite('{secrets}', 'reporter_keys')",
        "url table function": "SELECT * FROM url('http://127.0.0.1:9/', 'LineAsString')",
        "into outfile": f"SELECT * FROM {table} INTO OUTFILE '{out}'",
        "insert": f"INSERT INTO {table} SELECT 3",
        "with insert": f"WITH 3 AS y INSERT INTO {table} SELECT y",
        "drop": f"DROP TABLE {table}",
        "create": f"CREATE TABLE {table}_copy (x UInt8) ENGINE = Memory",
        "multi-statement": f"SELECT 1; DROP TABLE {table}",
        "settings": "SELECT 1 SETTINGS readonly = 0",
    }


CASES = list(hostile("t", Path("k"), Path("o")))


@pytest.mark.parametrize("kind", CASES)
def test_hostile_statements_are_refused_and_change_nothing(
    store: Store, table: str, secrets: Path, tmp_path: Path, kind: str
) -> None:
    out = tmp_path / "out.tsv"
    sql = hostile(table, secrets, out)[kind]
    with pytest.raises((Refused, QueryFailed)) as caught:
        store.query_readonly(sql)
    message = str(caught.value)
    assert "Traceback" not in message and "Stack trace" not in message
    assert len(message) < 600, "one clear line, not an engine dump"
    if kind in ("insert", "drop", "create", "multi-statement", "into outfile", "settings", "file function"):
        assert isinstance(caught.value, Refused), message
    assert not out.exists()
    assert store.query(f"SELECT x FROM {table} ORDER BY x") == [(1,), (2,)]
    assert "00FF" not in message.upper()


#: statements ClickHouse's readonly = 1 alone lets through (or that change the session), and the
#: rule each must be refused by
NOT_PLAIN_READS = {
    "KILL QUERY WHERE 1 SYNC": "read-statements",
    "KILL QUERY WHERE user != currentUser() SYNC": "read-statements",
    "USE system": "read-statements",
    "SET max_threads = 1": "read-statements",
    "SYSTEM STOP MERGES": "read-statements",
    "OPTIMIZE TABLE {table} FINAL": "read-statements",
    "EXISTS TABLE {table}": "read-statements",
    "SELECT * FROM {table} FORMAT JSONEachRow": "plain-read",
    "SELECT 1 /* ; */ ; KILL QUERY WHERE 1": "one-statement",
}


@pytest.mark.parametrize("sql", list(NOT_PLAIN_READS))
def test_what_is_not_a_plain_read_is_refused_naming_the_rule(store: Store, table: str, sql: str) -> None:
    with pytest.raises(Refused, match=f"refused by the rule '{NOT_PLAIN_READS[sql]}'"):
        store.query_readonly(sql.format(table=table))
    assert store.query(f"SELECT x FROM {table} ORDER BY x") == [(1,), (2,)]


def test_on_the_cluster_what_is_not_a_plain_read_is_refused_naming_the_rule(
    clickhouse_cluster: LocalCluster, database: str
) -> None:
    layout = clickhouse_cluster.layout()
    assert layout is not None
    cluster = open_store(layout.entry.url, cluster=layout.name)
    try:
        for sql, rule in NOT_PLAIN_READS.items():
            with pytest.raises(Refused, match=f"refused by the rule '{rule}'"):
                cluster.query_readonly(sql.format(table="system.one"))
        assert cluster.query_readonly("SELECT count() FROM system.one") == [(1,)]
    finally:
        cluster.close()


def test_the_key_store_is_out_of_reach(store: Store, table: str, secrets: Path) -> None:
    for sql in (
        f"SELECT hex(key) FROM sqlite('{secrets}', 'reporter_keys')",
        f"SELECT hex(file('{secrets}'))",
        f"SELECT * FROM file('{secrets}', 'RawBLOB')",
    ):
        with pytest.raises((Refused, QueryFailed)):
            store.query_readonly(sql)


def test_reading_works_as_before(store: Store, table: str) -> None:
    assert store.query_readonly(f"SELECT count(), sum(x) FROM {table}") == [(2, 3)]
    assert store.query_readonly(f"WITH 2 AS two SELECT x * two FROM {table} ORDER BY x") == [(2,), (4,)]
    database, name = table.split(".")
    assert (name,) in store.query_readonly(f"SHOW TABLES FROM {database}")
    assert store.query_readonly(f"DESCRIBE TABLE {table}")[0][:2] == ("x", "UInt8")
    assert store.query_readonly(f"SELECT 'KILL; FORMAT' /* ; USE x */ FROM {table} LIMIT 1") == [
        ("KILL; FORMAT",)
    ]


def test_malformed_sql_is_a_query_error_and_the_next_reader_is_unaffected(store: Store, table: str) -> None:
    for sql in ("", "SELECT * FROM numbers(", "SELECT * FROM nowhere.nothing"):
        with pytest.raises(QueryFailed):
            store.query_readonly(sql)
    with pytest.raises(Refused, match="'SELEC' is not a read"):
        store.query_readonly("SELEC 1")
    assert store.query_readonly(f"SELECT count() FROM {table}") == [(2,)]


def test_civicloop_own_writes_still_work_after_refused_reads(store: Store, table: str) -> None:
    with pytest.raises(Refused):
        store.query_readonly(f"SELECT 1; INSERT INTO {table} SELECT 9")
    store.insert(table, [{"x": 3}])
    assert store.query(f"SELECT count() FROM {table}") == [(3,)]
    assert store.query_readonly(f"SELECT count() FROM {table}") == [(3,)]
