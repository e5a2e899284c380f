"""The cluster variants of the DDL are derived from the single-node DDL, not copied: same columns, same
ORDER BY, same version column, engine replicated under per-shard ZooKeeper paths."""

from __future__ import annotations

import re

import pytest

from civicloop.projections import rebuild
from civicloop.projections.tables import cluster, schema


def _columns(statement: str, table: str) -> str:
    """The column list: from the paren after the table's name to the engine."""
    return statement[statement.index("(", statement.index(f".{table} ")) : statement.rindex(") ENGINE")]


@pytest.mark.parametrize("table", schema.NAMES)
def test_every_table_becomes_a_replicated_table_with_the_same_columns_and_order(table: str) -> None:
    single = schema.ddl(table).format(db="g1")

    replicated = cluster.local_statement(table, "g1", "c1")

    assert replicated.startswith(single[: single.index(f"g1.{table}")])
    assert f"g1.{table} ON CLUSTER c1 (" in replicated
    assert _columns(replicated, table) == _columns(single, table)
    assert replicated.split("ORDER BY")[1] == single.split("ORDER BY")[1]
    engine, args = re.search(r"ENGINE = (\w+)\((.*)\)", replicated).groups()  # type: ignore[union-attr]
    single_engine, single_args = re.search(r"ENGINE = (\w+)\((.*)\)", single).groups()  # type: ignore[union-attr]
    assert engine == f"Replicated{single_engine}"
    assert args == f"'/clickhouse/tables/{{shard}}/g1/{table}', '{{replica}}', {single_args}"


def test_a_table_without_engine_arguments_gets_only_the_path_and_replica(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        schema,
        "ddl",
        lambda _: "CREATE TABLE IF NOT EXISTS {db}.t (a String) ENGINE = MergeTree() ORDER BY a",
    )

    made = cluster.local_statement("t", "g1", "c1")

    assert made == (
        "CREATE TABLE IF NOT EXISTS g1.t ON CLUSTER c1 (a String) "
        "ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/g1/t', '{replica}') ORDER BY a"
    )


def test_ddl_of_another_shape_is_refused_rather_than_half_converted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema, "ddl", lambda _: "CREATE TABLE {db}.t (a String) ENGINE = Log")

    with pytest.raises(ValueError, match=r"the DDL of t is not"):
        cluster.local_statement("t", "g1", "c1")


@pytest.mark.parametrize("table", schema.NAMES)
def test_the_distributed_table_keeps_every_row_of_a_case_on_one_shard(table: str) -> None:
    statement = cluster.distributed_statement(table, "live", "g1", "c1")

    assert statement.startswith(f"CREATE TABLE IF NOT EXISTS live.{table} ON CLUSTER c1 AS g1.{table} ")
    key = statement.split(f"Distributed(c1, g1, {table}, ")[1].removesuffix(")")
    columns = _columns(schema.ddl(table), table)
    if "case_id String" in columns:
        assert key == "cityHash64(case_id)"
    elif table == schema.SIGNALS:  # signals belong to no case: by their own id
        assert key == "cityHash64(event_id)" and "event_id String" in columns
    elif table == schema.SIGNAL_PROGRESS:  # one row per detector
        assert key == "cityHash64(detector)" and "detector String" in columns
    elif table in (schema.PERIOD_SPANS, schema.METRIC_ROLLUP):  # a month's rows in one place
        assert key == "cityHash64(source, month)" and "month UInt32" in columns
    elif table == schema.BACKLOG_ROLLUP:  # of the case table only
        assert key == "cityHash64(month)" and "month UInt32" in columns
    else:  # progress markers have no case: one place per (topic, partition)
        assert key == "cityHash64(topic, partition)"


def test_a_deployment_has_two_generations_named_once_for_its_readers() -> None:
    assert cluster.generations_of("live") == ("live_g0", "live_g1")
    assert rebuild.live_database(rebuild.rebuild_database("live")) == "live"
    with pytest.raises(ValueError, match="not a rebuild's database"):
        rebuild.live_database("live")


def test_a_rebuilds_replication_log_has_a_path_of_its_own() -> None:
    # a dropped replicated table may leave its ZooKeeper path: the generation's name is reused,
    # its path never
    statement = cluster.local_statement(schema.CASE_STATE, "live_g1", "c", path="live_g1_0123abcd")

    assert "'/clickhouse/tables/{shard}/live_g1_0123abcd/case_state'" in statement
    assert "CREATE TABLE IF NOT EXISTS live_g1.case_state ON CLUSTER c (" in statement


def test_a_new_deployment_has_one_fixed_first_generation() -> None:
    # workers starting at the same moment must create the same tables, not two generations
    assert cluster.first_generation("live") == cluster.first_generation("live") == "live_g0"
