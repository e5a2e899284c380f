"""``civicloop api``: the app under uvicorn, on ``CIVICLOOP_API_HOST:CIVICLOOP_API_PORT``,
in ``CIVICLOOP_API_WORKERS`` processes (one per core by default) sharing that one port.

With more than one process uvicorn's supervisor binds the port once and its worker processes
accept from it (the kernel spreads connections); it restarts a worker that dies. Each worker
builds its app from the environment (``app_from_env``), which the supervisor sets from the
configuration it was given. The processes share nothing in memory: keys are checked against
the key store, writes go to Kafka, reads and read-your-writes come from the projections and
Kafka's offsets (api/progress.py), and with chDB every process reads through the worker, so
any number of them give the same answers.

uvicorn's own access log is off (it would log query strings, which may carry an Open311
``api_key``); the app logs each request through structlog instead (api/middleware.py).
"""

from __future__ import annotations

import os

import uvicorn
from confluent_kafka import KafkaException
from fastapi import FastAPI

from civicloop import log
from civicloop.api.app import create_app, open_backend
from civicloop.config import Config, load, to_env

_log = log.get(__name__)
#: seconds an idle keep-alive connection stays open
KEEP_ALIVE_S = 30


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


def app_from_env() -> FastAPI:
    """The app of one worker process, configured from the environment (uvicorn's factory)."""
    log.configure()
    return create_app(load())


def run(config: Config) -> None:
    check(config)
    workers = config.api_processes
    _log.info("api_listening", host=config.api_host, port=config.api_port, workers=workers)
    options = {
        "host": config.api_host,
        "port": config.api_port,
        "loop": "uvloop",
        "http": "httptools",
        "access_log": False,
        "log_config": None,
        "server_header": False,
        "timeout_graceful_shutdown": 10,
        # longer than clients keep idle connections (httpx and most pools: 5 s), so a client never
        # sends on a connection the server is closing at that moment (it would see no answer)
        "timeout_keep_alive": KEEP_ALIVE_S,
    }
    if workers == 1:
        uvicorn.run(create_app(config), **options)  # type: ignore[arg-type]
        return
    os.environ.update(to_env(config))  # what each worker's app_from_env reads
    uvicorn.run(f"{__name__}:app_from_env", factory=True, workers=workers, **options)  # type: ignore[arg-type]
