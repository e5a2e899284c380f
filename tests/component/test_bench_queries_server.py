"""The queries benchmark's synthetic projections on Debian's ClickHouse 18.16 server: the SQL
that makes them uses only what 18.16 has, and the databases are dropped afterwards."""

from __future__ import annotations

import pytest

from civicloop.projections.store.base import open_store
from civicloop.tools.bench import queries
from civicloop.tools.bench.stores import Backend

pytestmark = pytest.mark.integration


def test_bench_queries_runs_on_the_server(
    clickhouse_server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CIVICLOOP_CLICKHOUSE_URL", clickhouse_server_url)
    # when the benchmark runs on 2,000 cases on the server
    result = queries.run(2_000, Backend.server, rounds=1).as_dict()
    # then every query was timed over the rows of both tables
    assert all(f["rows"] >= 2_000 and f["seconds"] > 0 for f in result["figures"].values())
    assert set(result["notes"]["table_rows"]) == {"case_lifecycle", "case_tasks"}
    # and it left no database behind
    store = open_store(clickhouse_server_url)
    try:
        assert not store.query("SELECT name FROM system.databases WHERE name LIKE 'bench%'")
    finally:
        store.close()
