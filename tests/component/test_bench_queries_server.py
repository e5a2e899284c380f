"""The queries benchmark's synthetic projections on Debian's ClickHouse 18.16 server: the SQL
that makes them uses only what 18.16 has, and the databases are dropped afterwards."""

from __future__ import annotations

import pytest

from civicloop.projections.backend import open_store
from civicloop.tools.bench import queries
from civicloop.tools.bench.stores import Backend
from civicloop.tools.local.clickhouse_cluster import LocalCluster

pytestmark = pytest.mark.integration


def test_bench_queries_runs_on_the_server(
    clickhouse_server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CIVICLOOP_CLICKHOUSE_URL", clickhouse_server_url)
    # when the benchmark runs on 2,000 cases on the server
    result = queries.run(2_000, Backend.server, rounds=1).as_dict()
    # then every query was timed over the rows of both tables
    assert all(f["rows"] >= 2_000 and f["seconds"] > 0 for f in result["figures"].values())
    assert set(result["notes"]["table_rows"]) == {
        "case_lifecycle",
        "case_tasks",
        "metric_rollup",
        "backlog_rollup",
    }
    # and it left no database behind
    store = open_store(clickhouse_server_url)
    try:
        assert not store.query("SELECT name FROM system.databases WHERE name LIKE 'bench%'")
    finally:
        store.close()


def test_bench_queries_runs_on_the_cluster_and_leaves_no_database_on_any_node(
    clickhouse_cluster: LocalCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = clickhouse_cluster.layout()
    assert layout is not None
    monkeypatch.setenv("CIVICLOOP_CLICKHOUSE_URL", layout.entry.url)
    monkeypatch.setenv("CIVICLOOP_CLICKHOUSE_CLUSTER", layout.name)

    result = queries.run(2_000, Backend.cluster, rounds=1).as_dict()

    assert result["notes"]["store"].endswith(", 2 shards × 2 replicas)")
    assert result["notes"]["table_rows"]["case_lifecycle"] >= 2_000
    assert all(f["rows"] >= 2_000 and f["seconds"] > 0 for f in result["figures"].values())
    for node in layout.nodes:
        store = open_store(node.url)
        try:
            assert not store.query("SELECT name FROM system.databases WHERE name LIKE 'bench%'")
        finally:
            store.close()
