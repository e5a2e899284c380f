"""The local stack in the background: the broker (unless one is configured), its workers, the
notifier (``civicloop notifier``) and the HTTP API (``civicloop api``).

Each worker runs under a supervisor (``tools/local/supervisor.py``) that restarts it with
backoff when it dies; ``down`` stops both. A worker that finds Kafka away waits for it
(``streams/kafka.py``), so ``up`` returns once the worker serves health or says it is waiting.

Several workers (``up --workers N``) form one consumer group and split the partitions; worker
i (from 0) serves HTTP on CIVICLOOP_WORKER_WEB_PORT + i. They need a ClickHouse server or
cluster: chDB lets one process hold its directory.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from dataclasses import dataclass, replace
from typing import Any

from civicloop import log
from civicloop.config import Config, to_env
from civicloop.projections import backend
from civicloop.projections.store.worker import deployment_health
from civicloop.streams import kafka
from civicloop.streams.notify.notifier import health_file
from civicloop.streams.notify.store import NotifyStore
from civicloop.tools.local import api_server
from civicloop.tools.local.kafka_broker import LocalKafka
from civicloop.tools.local.process import Managed, wait_until
from civicloop.tools.local.supervisor import Status, read_status

_log = log.get(__name__)

NOTIFIER_STALE_S = 15.0  # a notifier writes its health every 2 s


def worker_process(config: Config, index: int = 0) -> Managed:
    """Worker ``index``'s supervisor (its process group holds the worker too)."""
    return Managed("worker" if index == 0 else f"worker-{index + 1}", config.var)


def worker_config(config: Config, index: int) -> Config:
    """Worker ``index``'s configuration: its own HTTP port, everything else shared."""
    return replace(config, worker_web_port=config.worker_web_port + index)


def supervisor_status(config: Config, index: int = 0) -> Status | None:
    """The supervisor's status file: the worker's pid, restarts, last exit code."""
    return read_status(config.var / f"{worker_process(config, index).name}.supervisor.json")


def start_worker(config: Config, timeout: float = 120.0, index: int = 0) -> int:
    """Start ``civicloop worker`` (the ``index``-th) under a supervisor in the background; wait
    until it serves health (or reports that it waits for Kafka). Returns the supervisor's pid."""
    process = worker_process(config, index)
    own = worker_config(config, index)
    pid = process.pid()
    if pid is not None:
        return pid
    env = {**os.environ, **to_env(own), "PYTHONUNBUFFERED": "1"}
    cli = [sys.executable, "-m", "civicloop.cli"]
    status_file = config.var / f"{process.name}.supervisor.json"
    status_file.unlink(missing_ok=True)
    pid = process.start([*cli, "supervise", "--status-file", str(status_file), "--", *cli, "worker"], env=env)
    try:
        wait_until(lambda: _worker_ready(own, process, index), timeout, "worker start")
    except TimeoutError:
        tail = process.log_tail(40)
        process.stop()
        raise RuntimeError(f"the worker did not become ready; its log ends:\n{tail}") from None
    return pid


def _worker_ready(config: Config, process: Managed, index: int) -> bool:
    status = supervisor_status(config, index)
    if process.pid() is None or (status is not None and status.restarts > 0):
        tail = process.log_tail(40)
        hint = (
            f"\nport {config.worker_web_port} is taken: set CIVICLOOP_WORKER_WEB_PORT to a free one"
            if "address already in use" in tail
            else ""
        )
        process.stop()
        raise RuntimeError(f"the worker exited during start-up:\n{tail}{hint}")
    return deployment_health(config) is not None or "kafka_unreachable" in process.log_tail(5)


def kill_worker_only(config: Config, index: int = 0) -> int | None:
    """SIGKILL the worker but not its supervisor (a crash the supervisor recovers from);
    return the pid killed, or None when no worker ran."""
    return _kill_child(supervisor_status(config, index))


def up(config: Config, workers: int = 1, settle_s: float = 30.0) -> None:
    """Start the broker (unless configured) and ``workers`` supervised workers; give them up to
    ``settle_s`` to join their group, so the status printed next is not a snapshot of start-up."""
    if workers > 1 and backend.from_config(config, chdb="own").one_writer:
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
    start_notifier(config)
    api_server.start_api(config)

    def all_ok() -> bool:
        return all(
            (deployment_health(worker_config(config, i)) or {}).get("status") == "ok" for i in range(workers)
        )

    try:
        wait_until(all_ok, settle_s, "workers ok")
    except TimeoutError:
        pass  # the status shows why it is not ok yet


def workers(config: Config) -> list[Managed]:
    """Every worker recorded for this deployment (running or not), in index order."""
    extra = sorted(int(path.stem.split("-")[1]) for path in config.var.glob("worker-*.pid"))
    return [worker_process(config)] + [worker_process(config, number - 1) for number in extra]


def down(config: Config) -> list[str]:
    """Stop what ``up`` started; return the names of what was running."""
    stopped = ["api"] if api_server.api_process(config).stop(timeout=30) else []
    stopped += ["notifier"] if notifier_process(config).stop(timeout=30) else []
    stopped += [process.name for process in workers(config) if process.stop(timeout=60)]
    if not config.kafka_bootstrap and LocalKafka(config).down():
        stopped.append("kafka")
    return stopped


@dataclass(frozen=True)
class Part:
    name: str
    state: str  # running | ok | degraded | waiting | stopped
    detail: str


def status(config: Config) -> list[Part]:
    """What runs, and how each worker is doing (its ``/civicloop/health``, streams/health.py)."""
    parts = [_broker_part(config)]
    for process in workers(config):
        index = 0 if process.name == "worker" else int(process.name.split("-")[1]) - 1
        parts += _worker_parts(config, index)
    parts += _notifier_parts(config)
    api = api_server.api_health(config)
    parts.append(
        Part(
            "api",
            "running" if api else "stopped",
            f"{api_server.api_url(config)}/docs" if api else "not running",
        )
    )
    return parts


def _broker_part(config: Config) -> Part:
    if config.kafka_bootstrap:
        return Part("kafka", "configured", config.kafka_bootstrap)
    local = LocalKafka(config)
    address = local.bootstrap()
    if address is None:
        kept = kafka.known_address(config)
        return Part("kafka", "stopped", f"local, will listen on {kept}" if kept else "not set up")
    return Part("kafka", "running", f"local {address} pid {local.process.pid()}")


def _worker_parts(config: Config, index: int = 0) -> list[Part]:
    own = worker_config(config, index)
    name = worker_process(config, index).name
    health = deployment_health(own)
    pid = worker_process(config, index).pid()
    supervised = supervisor_status(config, index)
    if health is None:
        if pid is None:
            return [Part(name, "stopped", "not running")]
        return [
            Part(
                name,
                "waiting",
                f"supervisor pid {pid}; the worker is starting or waiting for "
                f"Kafka (nothing answers on :{own.worker_web_port} yet)",
            )
        ]
    restarts = f", restarted {supervised.restarts}x" if supervised and supervised.restarts else ""
    reasons = ", ".join(f"{r} {n}" for r, n in sorted(health["dead_by_reason"].items()))
    worker = Part(
        name,
        health["status"],
        "; ".join(
            [
                *health["problems"],
                f"pid {supervised.child_pid if supervised else pid}{restarts}",
                f"last batch {_age(health['last_batch_age_s'])}, projected {health['projected']}",
                f"dead letters {health['dead']}{f' ({reasons})' if reasons else ''}",
                f"escalated {health['escalated']}",
                f"store {health['store']}",
            ]
        ),
    )
    lag = ", ".join(
        f"p{p['partition']} {p['lag']}{'*' if p['assigned_here'] else ''}" for p in health["partitions"]
    )
    kafka_state = health["kafka"]
    reach = "reachable" if kafka_state["reachable"] else "UNREACHABLE"
    lag_part = Part(
        "lag",
        "",
        f"{health['lag']} total (Kafka {reach}, group {kafka_state['group_state']}): "
        f"{lag or 'no partitions'}; * = held by this worker",
    )
    return [worker, lag_part]


def notifier_process(config: Config) -> Managed:
    """The notifier's supervisor (its process group holds the notifier too)."""
    return Managed("notifier", config.var)


def notifier_health(config: Config) -> dict[str, Any] | None:
    """What the running notifier last wrote about itself (streams/notify/notifier.py), or None
    when no notifier runs or it has not written for ``NOTIFIER_STALE_S`` seconds."""
    status = read_status(config.var / "notifier.supervisor.json")
    try:
        health: dict[str, Any] = json.loads(health_file(config).read_text())
    except (FileNotFoundError, ValueError):
        return None
    current = status is not None and status.child_pid == health.get("pid")
    return health if current and time.time() - health["at"] < NOTIFIER_STALE_S else None


def start_notifier(config: Config, timeout: float = 60.0) -> int:
    """Start ``civicloop notifier`` under a supervisor in the background; wait until it reports."""
    process = notifier_process(config)
    pid = process.pid()
    if pid is not None:
        return pid
    env = {**os.environ, **to_env(config), "PYTHONUNBUFFERED": "1"}
    cli = [sys.executable, "-m", "civicloop.cli"]
    status_file = config.var / "notifier.supervisor.json"
    status_file.unlink(missing_ok=True)
    pid = process.start(
        [*cli, "supervise", "--status-file", str(status_file), "--", *cli, "notifier"], env=env
    )
    try:
        wait_until(
            lambda: notifier_health(config) is not None or "kafka_unreachable" in process.log_tail(5),
            timeout,
            "notifier start",
        )
    except TimeoutError:
        tail = process.log_tail(40)
        process.stop()
        raise RuntimeError(f"the notifier did not become ready; its log ends:\n{tail}") from None
    return pid


def kill_notifier_only(config: Config) -> int | None:
    """SIGKILL the notifier but not its supervisor; the pid killed, or None when none ran."""
    return _kill_child(read_status(config.var / "notifier.supervisor.json"))


def _kill_child(status: Status | None) -> int | None:
    """SIGKILL the child a supervisor's ``status`` names; its pid, or None when none ran."""
    if status is None or status.child_pid is None:
        return None
    try:
        os.kill(status.child_pid, signal.SIGKILL)
    except ProcessLookupError:
        return None
    return status.child_pid


def _notifier_parts(config: Config) -> list[Part]:
    """The notifier, its lag, and per target (subscription, reporter adapter) its queue."""
    if notifier_process(config).pid() is None:
        return [Part("notifier", "stopped", "not running")]
    health = notifier_health(config)
    if health is None:
        return [Part("notifier", "waiting", "starting or waiting for Kafka")]
    lag = health["lag"]
    total = sum(lag.values())
    parts = [
        Part(
            "notifier",
            "running",
            f"pid {health['pid']}; lag {total} ("
            + (", ".join(f"p{p} {n}" for p, n in sorted(lag.items(), key=lambda kv: int(kv[0]))) or "none")
            + ")",
        )
    ]
    store = NotifyStore(config.notify_db)
    try:
        targets = store.targets()
    finally:
        store.close()
    for target in targets:
        age = "" if target.oldest_pending_age_s is None else f", oldest {target.oldest_pending_age_s:.0f} s"
        parts.append(
            Part(
                target.target,
                "degraded" if target.failed else "ok",
                f"pending {target.pending}{age}, failed {target.failed}, delivered {target.delivered}",
            )
        )
    return parts


def _age(seconds: float | None) -> str:
    return "none yet" if seconds is None else f"{seconds:.0f} s ago"
