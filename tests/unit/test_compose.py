"""docker-compose.yml: Kafka 4.x in KRaft, a ClickHouse server, the worker and the API — same
variables."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from civicloop.config import VARIABLES

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def _compose() -> dict:
    loaded: dict = yaml.safe_load(COMPOSE.read_text())
    return loaded


CLUSTER_NODES = {"ch-s1r1", "ch-s1r2", "ch-s2r1", "ch-s2r2"}


def _default_services() -> dict:
    return {name: s for name, s in _compose()["services"].items() if "profiles" not in s}


def test_compose_runs_kafka_4_in_kraft_clickhouse_and_the_worker() -> None:
    services = _default_services()

    assert set(services) == {"kafka", "clickhouse", "worker", "api", "notifier"}
    image, tag = services["kafka"]["image"].split(":")
    assert image == "apache/kafka" and int(tag.split(".")[0]) >= 4
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert services["clickhouse"]["image"].startswith("clickhouse/clickhouse-server:")
    assert services["worker"]["command"] == ["worker"]
    assert set(services["worker"]["depends_on"]) == {"kafka", "clickhouse"}


def test_worker_is_configured_through_the_documented_variables_only() -> None:
    env = _compose()["services"]["worker"]["environment"]

    assert set(env) <= set(VARIABLES)
    assert env["CIVICLOOP_KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert env["CIVICLOOP_CLICKHOUSE_URL"].startswith("clickhouse://clickhouse:9000")


def test_the_api_is_published_on_loopback_only_and_keeps_its_keys() -> None:
    api = _compose()["services"]["api"]

    assert api["command"] == ["api"] and api["image"] == _compose()["services"]["worker"]["image"]
    assert set(api["environment"]) <= set(VARIABLES)
    assert api["ports"] == [f"127.0.0.1:{api['environment']['CIVICLOOP_API_PORT']}:8080"]
    assert any(volume.endswith(":/var/lib/civicloop") for volume in api["volumes"])


def test_docker_compose_config_parses_the_file_where_compose_exists() -> None:
    # The docker client here may lack the compose plugin; the YAML checks above always run.
    docker = shutil.which("docker")
    has_compose = (
        docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    )
    if has_compose:
        result = subprocess.run(
            [docker, "compose", "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
    else:
        assert _compose()["services"]["worker"]["build"] == "."


def test_the_cluster_profile_runs_two_shards_of_two_replicas_zookeeper_and_two_workers() -> None:
    services = _compose()["services"]
    cluster = {name for name, s in services.items() if s.get("profiles") == ["cluster"]}

    assert cluster == CLUSTER_NODES | {"zookeeper", "worker-cluster"}
    for name in CLUSTER_NODES:
        mounts = services[name]["volumes"]
        assert any(m.endswith(":/etc/clickhouse-server/config.d/cluster.xml:ro") for m in mounts)
        assert any(f"macros-{name.removeprefix('ch-')}.xml" in m for m in mounts)
    worker = services["worker-cluster"]
    assert set(worker["environment"]) <= set(VARIABLES)
    assert worker["environment"]["CIVICLOOP_CLICKHOUSE_CLUSTER"] == "civicloop"
    assert worker["deploy"]["replicas"] == 2


def test_the_cluster_config_names_every_node_and_each_its_own_macros() -> None:
    docker = COMPOSE.parent / "docker" / "clickhouse-cluster"
    cluster = (docker / "cluster.xml").read_text()

    for name in CLUSTER_NODES:
        assert f"<host>{name}</host>" in cluster
        shard, replica = name.removeprefix("ch-s").split("r")
        macros = (docker / f"macros-s{shard}r{replica}.xml").read_text()
        assert f"<shard>{shard}</shard><replica>s{shard}r{replica}</replica>" in macros


def test_the_notifier_shares_the_key_store_with_the_api() -> None:
    services = _compose()["services"]
    notifier, api = services["notifier"], services["api"]
    assert notifier["command"] == ["notifier"]
    assert set(notifier["environment"]) <= set(VARIABLES)
    assert {v.split(":")[0] for v in notifier["volumes"]} & {v.split(":")[0] for v in api["volumes"]}
