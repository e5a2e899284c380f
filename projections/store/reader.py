"""Opening ClickHouse for reading, whoever holds it."""

from __future__ import annotations

from civicloop.config import Config
from civicloop.projections.store.base import Reader, open_store
from civicloop.projections.store.worker import deployment_health, worker_reader


def open_reader(config: Config) -> Reader:
    """The store itself (as its readers' user when one is configured), or — for chDB while a
    worker holds the directory — the worker."""
    if config.clickhouse_url.startswith("chdb:") and deployment_health(config):
        return worker_reader(config)
    return open_server_reader(config)


def open_server_reader(config: Config) -> Reader:
    """The configured store as its readers' user (CIVICLOOP_CLICKHOUSE_READER_URL, when set: a
    read-only ClickHouse user, separate from the worker's), with the cluster's entry settings
    on a cluster."""
    url = config.clickhouse_reader_url or config.clickhouse_url
    return open_store(url, config.home, config.clickhouse_cluster)
