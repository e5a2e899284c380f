"""Running one worker process in the foreground (``civicloop worker``).

Operations (docs/OPERATIONS.md): a worker started while Kafka is away waits for it with a
logged backoff (``kafka.wait_for_broker``) instead of exiting — and so does one whose broker goes
away between that wait and its Kafka clients' start (``clients_wait_for_the_broker``) — and once
running it rides out broker restarts (the Kafka clients reconnect to the same address).
SIGTERM or SIGINT end it within ``CIVICLOOP_SHUTDOWN_BOUND`` (8 s) whatever it is doing: the signal sets
``state.stopping`` at once (a batch retrying against a failing store gives up), Faust stops
gracefully, and if that has not finished by the bound — a store call hanging on a dead
connection, a commit to a broker that is gone — the process exits hard. That is safe: offsets
are committed only after the batch they cover is written, so whatever was in flight is
redelivered, never lost.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import Any

import faust
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaConnectionError

from civicloop import log
from civicloop.config import Config
from civicloop.runtime import tune_gc
from civicloop.streams import kafka
from civicloop.streams.app import create_app
from civicloop.streams.worker_state import WorkerState

_log = log.get(__name__)

FORCED_EXIT_CODE = 70  # EX_SOFTWARE: the graceful stop did not finish in time


class BoundedWorker(faust.Worker):
    """A Faust worker whose SIGTERM/SIGINT stop is bounded in time."""

    def __init__(self, app: faust.App, state: WorkerState, **kwargs: object) -> None:
        super().__init__(app, **kwargs)  # type: ignore[arg-type]
        self.civicloop_state = state
        self._armed = threading.Event()

    def _on_sigterm(self) -> None:
        self._arm("SIGTERM")
        super()._on_sigterm()

    def _on_sigint(self) -> None:
        self._arm("SIGINT")
        super()._on_sigint()

    def _arm(self, signal_name: str) -> None:
        # Before Faust starts stopping: its consumer stop may itself wait on the running batch.
        self.civicloop_state.stopping = True
        if self._armed.is_set():
            return
        self._armed.set()
        bound = self.civicloop_state.config.shutdown_bound  # the graceful stop gets this long
        _log.info("worker_stopping", signal=signal_name, bound_s=bound)
        threading.Thread(target=_exit_after, args=(bound,), name="stop-bound", daemon=True).start()


def _exit_after(seconds: float) -> None:
    time.sleep(seconds)
    _log.warning(
        "worker_forced_exit",
        after_s=seconds,
        why="graceful stop did not finish; in-flight work is redelivered",
    )
    os._exit(FORCED_EXIT_CODE)


_BOOTSTRAP_ONCE = AIOKafkaClient.bootstrap


def clients_wait_for_the_broker(first_delay: float = 1.0, max_delay: float = 30.0) -> None:
    """Make this process's aiokafka clients (Faust's producer and consumer) wait for the broker
    when they start, as ``kafka.wait_for_broker`` does, instead of raising.

    Such a client bootstraps once, when it starts, and raises when no broker answers then: a
    broker that went away between ``wait_for_broker`` and that moment (a restart just then) ended
    the worker with exit code 1, a crash its supervisor restarted — the chaos benchmark counted
    three restarts for two kills. Now the bootstrap is retried with a logged, doubling delay
    (``kafka_unreachable``); a stop cancels the wait. A running client never bootstraps again:
    it reconnects by itself."""

    async def bootstrap(client: Any) -> None:
        delay = first_delay
        while True:
            try:
                await _BOOTSTRAP_ONCE(client)
                return
            except KafkaConnectionError as exc:
                hosts = ",".join(f"{host}:{port}" for host, port, *_ in client.hosts)
                _log.warning("kafka_unreachable", bootstrap=hosts, error=str(exc), retry_in_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)

    AIOKafkaClient.bootstrap = bootstrap


def run(config: Config, loglevel: str = "warn") -> None:
    """Project the case-events topic until SIGTERM/SIGINT; never returns early on bad input."""
    tune_gc()
    clients_wait_for_the_broker()
    address = kafka.wait_for_broker(config)
    state = WorkerState(config, address)
    app = create_app(config, state)

    @app.on_before_shutdown.connect  # type: ignore[arg-type]  # faust's stub wants `signal`
    def _stopping(app: faust.App, **_: object) -> None:
        # Also when Faust stops for a reason of its own: a retrying batch must give up.
        state.stopping = True

    _log.info(
        "worker_starting",
        topic=config.events_topic,
        bootstrap=address,
        store=state.store.url,
        group=config.consumer_group,
        web_port=config.worker_web_port,
    )
    worker = BoundedWorker(app, state, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    try:
        worker.execute_from_commandline()
    finally:
        state.probe.stop()
        state.projector.close()
        state.store.close()
