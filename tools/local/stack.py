"""The local stack in the background: the broker (unless one is configured), a worker, the API."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from civicloop import log
from civicloop.config import Config, to_env
from civicloop.projections.store.worker import deployment_health
from civicloop.streams import kafka
from civicloop.tools.local import api_server
from civicloop.tools.local.kafka_broker import LocalKafka
from civicloop.tools.local.process import Managed, wait_until

_log = log.get(__name__)


def worker_process(config: Config) -> Managed:
    return Managed("worker", config.var)


def start_worker(config: Config, timeout: float = 120.0) -> int:
    """Start ``civicloop worker`` in the background and wait until it serves health."""
    process = worker_process(config)
    pid = process.pid()
    if pid is not None:
        return pid
    env = {**os.environ, **to_env(config), "PYTHONUNBUFFERED": "1"}
    pid = process.start([sys.executable, "-m", "civicloop.cli", "worker"], env=env)
    try:
        wait_until(lambda: _worker_ready(config, process), timeout, "worker start")
    except TimeoutError:
        tail = process.log_tail(40)
        process.stop()
        raise RuntimeError(f"the worker did not become ready; its log ends:\n{tail}") from None
    return pid


def _worker_ready(config: Config, process: Managed) -> bool:
    if process.pid() is None:
        tail = process.log_tail(40)
        hint = (
            f"\nport {config.worker_web_port} is taken: set CIVICLOOP_WORKER_WEB_PORT to a free one"
            if "address already in use" in tail
            else ""
        )
        raise RuntimeError(f"the worker exited during start-up:\n{tail}{hint}")
    return deployment_health(config) is not None


def up(config: Config) -> None:
    if not config.kafka_bootstrap:
        LocalKafka(config).up()
    kafka.ensure_topics(config)
    start_worker(config)
    api_server.start_api(config)


def down(config: Config) -> list[str]:
    """Stop what ``up`` started; return the names of what was running."""
    stopped = []
    if api_server.api_process(config).stop(timeout=30):
        stopped.append("api")
    if worker_process(config).stop(timeout=60):
        stopped.append("worker")
    if not config.kafka_bootstrap and LocalKafka(config).down():
        stopped.append("kafka")
    return stopped


@dataclass(frozen=True)
class Part:
    name: str
    running: bool
    detail: str


def status(config: Config) -> list[Part]:
    if config.kafka_bootstrap:
        broker = Part("kafka", True, f"configured: {config.kafka_bootstrap}")
    else:
        local = LocalKafka(config)
        address = local.bootstrap()
        broker = Part(
            "kafka",
            address is not None,
            f"local {address} pid {local.process.pid()}" if address else "not running",
        )
    health = deployment_health(config)
    pid = worker_process(config).pid()
    if health:
        reasons = ", ".join(f"{r} {n}" for r, n in sorted(health["dead_by_reason"].items()))
        detail = (
            f"pid {pid}, projected {health['projected']}, dead letters {health['dead']}"
            f"{f' ({reasons})' if reasons else ''}, escalated {health['escalated']}, "
            f"store {health['store']}"
        )
    else:
        detail = "not running" if pid is None else f"pid {pid}, not answering on :{config.worker_web_port}"
    api = api_server.api_health(config)
    api_detail = f"{api_server.api_url(config)}/docs" if api else "not running"
    return [broker, Part("worker", health is not None, detail), Part("api", api, api_detail)]
