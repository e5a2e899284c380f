"""Running one worker process in the foreground (``civicloop worker``)."""

from __future__ import annotations

import faust

from civicloop import log
from civicloop.config import Config
from civicloop.runtime import tune_gc
from civicloop.streams import kafka
from civicloop.streams.app import create_app
from civicloop.streams.worker_state import WorkerState

_log = log.get(__name__)


def run(config: Config, loglevel: str = "warn") -> None:
    """Project the case-events topic until SIGTERM/SIGINT; never returns early on bad input."""
    tune_gc()
    address = kafka.bootstrap(config)
    kafka.ensure_topics(config, address)
    state = WorkerState(config, address)
    app = create_app(config, state)

    @app.on_before_shutdown.connect  # type: ignore[arg-type]  # faust's stub wants `signal`
    def _stopping(app: faust.App, **_: object) -> None:
        # A batch retrying against a dead store gives up on shutdown rather than hang it;
        # its offsets were never acknowledged, so the next worker replays it.
        state.stopping = True

    _log.info(
        "worker_starting",
        topic=config.events_topic,
        store=state.store.url,
        group=config.consumer_group,
        web_port=config.worker_web_port,
    )
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    try:
        worker.execute_from_commandline()
    finally:
        state.store.close()
