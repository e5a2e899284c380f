"""The Faust application: agents projecting the case-events and signals topics into
ClickHouse, and the timers of the SLA watchdog and the signals sweep.

Delivery: ``take_lingering`` (streams/batching.py) acknowledges a batch only when the agent asks
for the next one, i.e. after ``project_until_written`` returned; Faust commits acknowledged
offsets. A SIGKILL before that commit replays the batch, and every table is idempotent
(event_id / offset keys), so the result is neither loss nor double counting. Faust's own
``exactly_once`` is not relied on.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import faust
from faust.types import TP

from civicloop.config import Config
from civicloop.projections.projector import RawMessage
from civicloop.streams import settings
from civicloop.streams.batching import take_lingering
from civicloop.streams.web import register_views
from civicloop.streams.worker_state import WorkerState

BATCH_MAX = 10_000
BATCH_LINGER_S = 0.25  # docs/DESIGN.md §8: a batch's first event waits at most this long


def create_app(config: Config, state: WorkerState) -> faust.App:
    """Build the worker's app for ``config``; ``state`` owns the store and the counters."""
    app = faust.App(
        config.consumer_group,
        broker=[f"kafka://{host}" for host in state.bootstrap.split(",")],
        value_serializer="raw",
        key_serializer="raw",
        store="memory://",
        datadir=str(config.var / "faust"),
        web_enabled=True,
        web_bind="127.0.0.1",
        web_host="127.0.0.1",
        web_port=config.worker_web_port,
        consumer_auto_offset_reset="earliest",
        broker_commit_every=BATCH_MAX,
        # Prefetch a whole next batch while the projector writes this one (default 4,096).
        stream_buffer_maxsize=2 * BATCH_MAX,
        broker_commit_interval=1.0,
        topic_disable_leader=True,
        topic_allow_declare=False,
        producer_acks=-1,
        consumer_group_instance_id=settings.group_instance_id(config.consumer_group, config.worker_id),
        **settings.WORKER_CONSUMER,
    )
    topic = app.topic(
        config.events_topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
    # One thread for the projector and one for the sweeps (SLA watchdog, signals): store calls
    # block and must not run inside the event loop, a sweep's reads must not hold up a batch,
    # and on a ClickHouse server each thread has its own connection
    # (projections/store/server.py), so a sweep never interleaves with a batch's inserts.
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="projector")
    sweeper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sweeps")

    @app.agent(topic, name="project")
    async def project(stream: faust.StreamT) -> None:
        async for events in take_lingering(stream, BATCH_MAX, BATCH_LINGER_S):
            batch = [_raw(e) for e in events]
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(executor, state.project, batch)

    signals = app.topic(
        config.signals_topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )

    @app.agent(signals, name="project_signals")
    async def project_signals(stream: faust.StreamT) -> None:
        # Same acknowledgement contract as `project`: offsets commit after the write returned.
        async for events in take_lingering(stream, 1_000, BATCH_LINGER_S):
            batch = [_raw(e) for e in events]
            await asyncio.get_running_loop().run_in_executor(executor, state.project_signals, batch)

    if config.signals_interval > 0:

        @app.timer(interval=config.signals_interval)
        async def signal_sweep() -> None:
            await asyncio.get_running_loop().run_in_executor(sweeper, state.sweep_signals)

    if config.watchdog_interval > 0:

        @app.timer(interval=config.watchdog_interval)
        async def sla_watchdog() -> None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(sweeper, state.sweep)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def _revoked(app: faust.App, revoked: set[TP], **_: object) -> None:
        # Another worker may advance these cases now: cached states would be stale.
        state.projector.forget()
        state.assigned -= {tp.partition for tp in revoked if tp.topic == config.events_topic}

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def _assigned(app: faust.App, assigned: set[TP], **_: object) -> None:
        # Faust's assignment is the whole new set: the health report's "assigned here".
        state.assigned = {tp.partition for tp in assigned if tp.topic == config.events_topic}

    register_views(app, state)
    return app


def _raw(e: faust.EventT) -> RawMessage:
    m = e.message
    return RawMessage(m.topic, m.partition, m.offset, m.key, m.value, _millis(m.timestamp))


def _millis(timestamp: float | None) -> int | None:
    return None if timestamp is None else int(timestamp * 1000)
