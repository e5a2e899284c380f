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


def test_compose_runs_kafka_4_in_kraft_clickhouse_and_the_worker() -> None:
    services = _compose()["services"]

    assert set(services) == {"kafka", "clickhouse", "worker", "api"}
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
