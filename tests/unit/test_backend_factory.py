"""The one factory (``projections/backend.py``): which backend a configuration names, and how a
process holds a chDB directory. Opening nothing: the contract suite proves what each backend
does (tests/component/test_backend_contract.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from civicloop.projections import backend
from civicloop.projections.backend import Address, HeldByWorker, StoreURLError
from tests.conftest import make_config


def test_a_chdb_url_is_a_directory_under_home_unless_absolute(tmp_path: Path) -> None:
    assert backend.from_url("chdb://var/chdb", tmp_path) == backend.OwnedChdb(tmp_path / "var" / "chdb")
    assert backend.from_url("chdb:///srv/ch%20db", tmp_path) == backend.OwnedChdb(Path("/srv/ch db"))


def test_a_server_url_is_a_server_and_with_a_cluster_name_a_cluster() -> None:
    writer = Address("ch1", 9001, "w", "p@ss")
    assert backend.from_url("clickhouse://w:p%40ss@ch1:9001/") == backend.Server(writer, writer)
    assert backend.from_url("clickhouse://w:p%40ss@ch1:9001/", cluster="c2") == backend.Cluster(
        writer, writer, "c2"
    )


def test_readers_connect_as_the_reader_url_user() -> None:
    made = backend.from_url("clickhouse://ch1:9000/", reader_url="clickhouse://r:s@ch1:9000/")
    assert made == backend.Server(Address("ch1", 9000, "default", ""), Address("ch1", 9000, "r", "s"))


@pytest.mark.parametrize(
    ("url", "cluster", "reader_url", "says"),
    [
        ("postgres://db/", "", "", "use chdb:///absolute/dir"),
        ("chdb://var/chdb", "c2", "", "needs a server URL"),
        ("chdb://var/chdb", "", "clickhouse://r:s@ch1:9000/", "READER_URL must be clickhouse://"),
        ("clickhouse://ch1:9000/", "", "chdb://var/r", "READER_URL must be clickhouse://"),
    ],
)
def test_an_unknown_backend_is_refused_saying_what_to_use(
    url: str, cluster: str, reader_url: str, says: str
) -> None:
    with pytest.raises(StoreURLError, match=says) as refused:
        backend.from_url(url, cluster=cluster, reader_url=reader_url)
    assert ":s@" not in str(refused.value)  # a reader's password is not echoed into logs


def test_chdb_is_owned_by_the_worker_read_through_it_by_the_api(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    assert backend.from_config(config, chdb="own") == backend.OwnedChdb(tmp_path / "chdb")
    through = backend.from_config(config, chdb="through")
    assert through == backend.ChdbThroughWorker(config) and through.held_by_worker
    assert backend.from_config(config, chdb="own").one_writer and through.one_writer
    with pytest.raises(HeldByWorker, match=f"the worker on port {config.worker_web_port}"):
        through.open_writer()


def test_a_command_holds_chdb_itself_when_no_worker_of_the_deployment_answers(tmp_path: Path) -> None:
    # nothing listens on the configured worker port (make_config chose a free one)
    assert backend.from_config(make_config(tmp_path)) == backend.OwnedChdb(tmp_path / "chdb")


def test_a_server_deployment_is_read_directly_whatever_the_chdb_policy(tmp_path: Path) -> None:
    config = make_config(tmp_path, clickhouse_url="clickhouse://ch1:9000/")
    for policy in ("own", "through", "ask"):
        made = backend.from_config(config, chdb=policy)  # type: ignore[arg-type]
        assert type(made) is backend.Server and not made.one_writer and not made.held_by_worker
