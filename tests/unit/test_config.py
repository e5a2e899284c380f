"""Configuration from the environment: defaults, validation, and the round trip to children."""

from __future__ import annotations

import dataclasses

import pytest

from civicloop import config
from civicloop.projections import backend
from civicloop.streams import kafka


def test_defaults_work_on_a_fresh_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in config.VARIABLES:
        monkeypatch.delenv(name, raising=False)

    loaded = config.load()

    assert loaded.kafka_bootstrap == ""
    assert loaded.clickhouse_url == "chdb://var/chdb"
    assert loaded.events_topic == "civicloop.case-events"
    assert loaded.dead_letter_topic == "civicloop.dead-letter"
    assert loaded.database == "civicloop"
    assert loaded.watchdog_interval == 60.0
    assert (loaded.api_host, loaded.api_port) == ("127.0.0.1", 8080)  # loopback unless told
    assert loaded.api_keys == loaded.home / "var" / "api" / "keys.sqlite"
    assert loaded.services is None  # the packaged catalogue
    assert loaded.open311_reads == "public"  # Open311 GETs need no key, as the spec says


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CIVICLOOP_NAMESPACE", "9lives", "start with a letter"),
        ("CIVICLOOP_PARTITIONS", "six", "not an integer"),
        ("CIVICLOOP_PARTITIONS", "0", "positive"),
        ("CIVICLOOP_WATCHDOG_INTERVAL", "-1", r"0 \(off\)"),
        ("CIVICLOOP_SUPERVISOR_BACKOFF", "0", "positive number of seconds"),
        ("CIVICLOOP_REPLAY_BATCH", "0", "positive integer"),
        ("CIVICLOOP_SHUTDOWN_BOUND", "0", "positive number of seconds"),
        ("CIVICLOOP_API_PORT", "70000", "TCP port"),
        ("CIVICLOOP_API_PORT", "http", "not an integer"),
        ("CIVICLOOP_OPEN311_READS", "open", "public or key"),
        ("CIVICLOOP_WORKER_ID", "bad id", "letters, digits"),
        ("CIVICLOOP_SMTP_PORT", "0", "TCP port"),
    ],
)
def test_unusable_values_are_named_in_the_error(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(ValueError, match=message) as raised:
        config.load()

    assert name in str(raised.value) and repr(value) in str(raised.value)


def test_namespace_becomes_a_safe_database_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICLOOP_NAMESPACE", "city-a.prod")

    assert config.load().database == "city_a_prod"


def test_to_env_round_trips(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("CIVICLOOP_HOME", str(tmp_path))
    monkeypatch.setenv("CIVICLOOP_KAFKA_BOOTSTRAP", "k1:9092,k2:9092")
    monkeypatch.setenv("CIVICLOOP_SERVICES", "city/services.toml")
    monkeypatch.setenv("CIVICLOOP_API_PORT", "9311")
    first = config.load()
    assert first.services == tmp_path / "city" / "services.toml"
    for name, value in config.to_env(first).items():
        monkeypatch.setenv(name, value)

    assert config.load() == first


def test_an_explicit_bootstrap_is_used_instead_of_the_local_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICLOOP_KAFKA_BOOTSTRAP", "kafka.example:9092")

    assert kafka.bootstrap(config.load()) == "kafka.example:9092"


def test_no_kafka_says_what_to_do(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.delenv("CIVICLOOP_KAFKA_BOOTSTRAP", raising=False)
    monkeypatch.setenv("CIVICLOOP_HOME", str(tmp_path))

    with pytest.raises(kafka.NoKafka, match="civicloop kafka up"):
        kafka.bootstrap(config.load())


def test_a_cluster_needs_a_server_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICLOOP_CLICKHOUSE_CLUSTER", "city")
    monkeypatch.setenv("CIVICLOOP_CLICKHOUSE_URL", "chdb://var/chdb")

    with pytest.raises(ValueError, match="CIVICLOOP_CLICKHOUSE_CLUSTER='city' needs a server"):
        backend.from_config(config.load())

    monkeypatch.setenv("CIVICLOOP_CLICKHOUSE_URL", "clickhouse://ch1:9000/")
    assert config.load().clickhouse_cluster == "city"
    assert backend.from_config(config.load()).kind == "cluster"


def test_a_cluster_name_clickhouse_cannot_take_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICLOOP_CLICKHOUSE_URL", "clickhouse://ch1:9000/")
    monkeypatch.setenv("CIVICLOOP_CLICKHOUSE_CLUSTER", "city; DROP")

    with pytest.raises(ValueError, match="not a cluster name"):
        config.load()


def test_the_cluster_round_trips_to_children(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICLOOP_CLICKHOUSE_URL", "clickhouse://ch1:9000/")
    monkeypatch.setenv("CIVICLOOP_CLICKHOUSE_CLUSTER", "city")

    assert config.to_env(config.load())["CIVICLOOP_CLICKHOUSE_CLUSTER"] == "city"


def test_a_reader_url_needs_servers_and_round_trips_to_children(monkeypatch: pytest.MonkeyPatch) -> None:
    reader = "clickhouse://civicloop_reader:s3cret@ch1:9000/"
    monkeypatch.setenv("CIVICLOOP_CLICKHOUSE_READER_URL", reader)
    monkeypatch.setenv("CIVICLOOP_CLICKHOUSE_URL", "chdb://var/chdb")
    with pytest.raises(ValueError, match="CIVICLOOP_CLICKHOUSE_READER_URL must be") as raised:
        backend.from_config(config.load())
    assert "s3cret" not in str(raised.value)  # the password is not echoed into logs

    monkeypatch.setenv("CIVICLOOP_CLICKHOUSE_URL", "clickhouse://ch1:9000/")
    loaded = config.load()
    assert loaded.clickhouse_reader_url == reader
    assert backend.from_config(loaded).kind == "server"
    assert config.to_env(loaded)["CIVICLOOP_CLICKHOUSE_READER_URL"] == reader


def test_the_public_url_is_configured_or_derived_from_the_bind_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in config.VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert config.load().api_public_url == "http://127.0.0.1:8080"
    monkeypatch.setenv("CIVICLOOP_API_HOST", "::1")
    assert config.load().api_public_url == "http://[::1]:8080"
    monkeypatch.setenv("CIVICLOOP_API_PUBLIC_URL", "https://311.example.org/")
    assert config.load().api_public_url == "https://311.example.org"
    for bad in ("311.example.org", "https://u:p@311.example.org", "https://x.org/?api_key=1", "http://[::1"):
        monkeypatch.setenv("CIVICLOOP_API_PUBLIC_URL", bad)
        with pytest.raises(ValueError, match="CIVICLOOP_API_PUBLIC_URL"):
            config.load()


def test_each_setting_is_declared_once_and_every_view_derives_from_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    """The field declarations are the one table: the docs' variables, to_env's variables and the
    Config fields are the same set, and a field's dataclass default is what load reads from an
    empty environment (paths under CIVICLOOP_HOME resolved there)."""
    fields = {f.name: f for f in dataclasses.fields(config.Config)}
    assert [name for name, _ in config.SETTINGS] == list(fields)
    assert len(set(config.VARIABLES)) == len(fields)
    for name in config.VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CIVICLOOP_HOME", str(tmp_path))
    loaded = config.load()
    assert set(config.to_env(loaded)) == set(config.VARIABLES)
    for name, declared in config.SETTINGS:
        default = fields[name].default
        if default is dataclasses.MISSING:  # required when a Config is built by hand
            continue
        if declared.under_home and default is not None:
            default = tmp_path / default
        assert getattr(loaded, name) == default, declared.env


def test_every_setting_is_listed_by_civicloop_config() -> None:
    from typer.testing import CliRunner

    from civicloop.cli import app

    listed = CliRunner().invoke(app, ["config"], env={"COLUMNS": "400"}).output
    missing = [name for name in config.VARIABLES if name not in listed]
    assert missing == []
