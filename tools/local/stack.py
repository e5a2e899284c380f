"""The local stack in the background: the broker (unless one is configured) and its workers.

Several workers (``up --workers N``) form one consumer group and split the partitions; worker
i (from 0) serves HTTP on CIVICLOOP_WORKER_WEB_PORT + i. They need a ClickHouse server or
cluster: chDB lets one process hold its directory.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, replace

from civicloop import log
from civicloop.config import Config, to_env
from civicloop.projections.store.worker import deployment_health
from civicloop.streams import kafka
from civicloop.tools.local.kafka_broker import LocalKafka
from civicloop.tools.local.process import Managed, wait_until

_log = log.get(__name__)


def worker_process(config: Config, index: int = 0) -> Managed:
    return Managed("worker" if index == 0 else f"worker-{index + 1}", config.var)


def worker_config(config: Config, index: int) -> Config:
    """Worker ``index``'s configuration: its own HTTP port, everything else shared."""
    return replace(config, worker_web_port=config.worker_web_port + index)


def start_worker(config: Config, timeout: float = 120.0, index: int = 0) -> int:
    """Start ``civicloop worker`` (the ``index``-th) in the background and wait until it serves
    health."""
    process = worker_process(config, index)
    config = worker_config(config, index)
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


def up(config: Config, workers: int = 1) -> None:
    if workers > 1 and not config.clickhouse_url.startswith("clickhouse://"):
        raise ValueError(
            f"--workers {workers} needs a ClickHouse server or cluster: chDB ({config.clickhouse_url}) "
            "lets one process hold its directory; set CIVICLOOP_CLICKHOUSE_URL (and "
            "CIVICLOOP_CLICKHOUSE_CLUSTER), e.g. from `civicloop clickhouse up --shards 2 --replicas 2`"
        )
    if not config.kafka_bootstrap:
        LocalKafka(config).up()
    kafka.ensure_topics(config)
    for index in range(workers):
        start_worker(config, index=index)


def workers(config: Config) -> list[Managed]:
    """Every worker process recorded for this deployment (running or not)."""
    extra = sorted(int(path.stem.split("-")[1]) for path in config.var.glob("worker-*.pid"))
    return [worker_process(config)] + [worker_process(config, number - 1) for number in extra]


def down(config: Config) -> list[str]:
    """Stop what ``up`` started; return the names of what was running."""
    stopped = [process.name for process in workers(config) if process.stop(timeout=60)]
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
    return [broker] + [_worker_part(config, index, process) for index, process in enumerate(workers(config))]


def _worker_part(config: Config, index: int, process: Managed) -> Part:
    config = worker_config(config, index)
    health = deployment_health(config)
    pid = process.pid()
    if health:
        reasons = ", ".join(f"{r} {n}" for r, n in sorted(health["dead_by_reason"].items()))
        detail = (
            f"pid {pid}, projected {health['projected']}, dead letters {health['dead']}"
            f"{f' ({reasons})' if reasons else ''}, escalated {health['escalated']}, "
            f"store {health['store']}"
        )
    else:
        detail = "not running" if pid is None else f"pid {pid}, not answering on :{config.worker_web_port}"
    return Part(process.name, health is not None, detail)
