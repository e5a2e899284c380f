"""Opening ClickHouse for reading, whoever holds it."""

from __future__ import annotations

from civicloop.config import Config
from civicloop.projections.store.base import Reader, open_store
from civicloop.projections.store.worker import deployment_health, worker_reader


def open_reader(config: Config) -> Reader:
    """The store itself, or — for chDB while a worker holds the directory — the worker."""
    if config.clickhouse_url.startswith("chdb:") and deployment_health(config):
        return worker_reader(config)
    return open_store(config.clickhouse_url, config.home, config.clickhouse_cluster)
