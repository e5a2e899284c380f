"""``civicloop api``: the app under uvicorn, on ``CIVICLOOP_API_HOST:CIVICLOOP_API_PORT``.

uvicorn's own access log is off (it would log query strings, which may carry an Open311
``api_key``); the app logs each request through structlog instead (api/middleware.py).
"""

from __future__ import annotations

import uvicorn
from confluent_kafka import KafkaException

from civicloop import log
from civicloop.api.app import create_app, open_backend
from civicloop.config import Config

_log = log.get(__name__)


def check(config: Config) -> None:
    """Open and close everything the app needs, so a bad catalogue, key store or Kafka
    address is one clear error before the server starts, not a failed start-up."""
    try:
        open_backend(config).close()
    except KafkaException as exc:
        raise RuntimeError(
            f"Kafka at {config.kafka_bootstrap or 'the local broker'} cannot be reached ({exc}): "
            "start it (`civicloop kafka up`) or set CIVICLOOP_KAFKA_BOOTSTRAP"
        ) from None


def run(config: Config) -> None:
    check(config)
    _log.info("api_listening", host=config.api_host, port=config.api_port)
    uvicorn.run(
        create_app(config),
        host=config.api_host,
        port=config.api_port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,
        server_header=False,
        timeout_graceful_shutdown=10,
    )
