"""Where the benchmarks write ClickHouse tables: chDB in a temp dir, or a ClickHouse server.

``server`` uses ``CIVICLOOP_CLICKHOUSE_URL`` when it names a server, else starts Debian's
clickhouse-server in the temp dir for the run. Either way the databases a run created are
dropped afterwards, so a shared server keeps nothing of it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path

from civicloop.projections.store.base import open_store
from civicloop.tools.local.clickhouse_server import LocalClickHouse


class Backend(StrEnum):
    chdb = "chdb"
    server = "server"


@contextmanager
def target(backend: Backend, tmp: Path, databases: list[str]) -> Iterator[str]:
    """A store URL for the run; on a server, ``databases`` are dropped when it ends."""
    if backend is Backend.chdb:
        yield f"chdb://{tmp / 'chdb'}"  # the temp dir goes, and the tables with it
        return
    configured = os.environ.get("CIVICLOOP_CLICKHOUSE_URL", "")
    local = None if configured.startswith("clickhouse://") else LocalClickHouse(tmp / "clickhouse")
    url = configured if local is None else local.up()
    try:
        yield url
    finally:
        if local is not None:
            local.down()
        else:
            store = open_store(url)
            try:
                for database in databases:
                    store.command(f"DROP DATABASE IF EXISTS {database}")
            finally:
                store.close()
