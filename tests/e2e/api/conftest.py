"""One deployment per backend for all API tests: broker, worker and ``civicloop api``, started
once (they take seconds); each test makes its own cases, so tests never see each other's data."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import make_config
from tests.support.api_site import Site
from tests.support.geo import write_test_city
from tests.support.workers import Worker


@pytest.fixture(scope="package")  # parametrised by tests/conftest.py: backends_of
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str
) -> Iterator[Site]:
    home = tmp_path_factory.mktemp(f"api-{request.param}")
    url = (
        f"chdb://{home / 'chdb'}"
        if request.param == "chdb"
        else request.getfixturevalue("clickhouse_server_url")
    )
    # the SLA watchdog is off: its escalations would add events the tests do not expect; two API
    # processes behind the one port, whatever the machine's cores: every answer must not depend
    # on which process gave it; a request body has the default 10 s to arrive (a 2 s limit
    # 408'd a read-your-writes call under load: a server process whose event loop is held up
    # longer than the limit between a request's headers and its body times the body out though
    # it came at once; test_hardening's slow clients get their own API process with 2 s); the
    # boundaries are a deployment's own file: the demo city and a
    # test district around the Baltimore coordinates the tests report from (out-of-area reports
    # refused, the default)
    boundaries = write_test_city(home / "boundaries.geojson")
    config = make_config(
        home,
        kafka_bootstrap=kafka_bootstrap,
        clickhouse_url=url,
        watchdog_interval=0,
        api_workers=2,
        boundaries=boundaries,
    )
    running = Site(config, Worker(config)).start()
    yield running
    running.stop()
