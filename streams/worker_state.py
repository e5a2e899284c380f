"""What a running worker owns: its store, its projector, and the figures it reports."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import civicloop
from civicloop import localauth, log
from civicloop.config import Config
from civicloop.projections import backend
from civicloop.projections.parallel import projection
from civicloop.projections.projector import Projection, RawMessage
from civicloop.projections.rebuild import rebuild_database
from civicloop.projections.signals.projector import SignalProjection
from civicloop.projections.store.base import Store
from civicloop.streams import watchdog
from civicloop.streams.contract import contract
from civicloop.streams.dead_letter import DeadLetterPublisher
from civicloop.streams.health import BrokerProbe, judge
from civicloop.streams.latency import LatencyHistogram
from civicloop.streams.producer import EventProducer
from civicloop.streams.replayer import Replayer, ReplayStatus
from civicloop.streams.signals import SignalAgent

_log = log.get(__name__)


@dataclass
class Counters:
    batches: int = 0
    projected: int = 0
    skipped: int = 0  # redeliveries of what was already projected: nothing written
    dead: int = 0
    dead_by_reason: dict[str, int] = field(default_factory=dict)
    escalated: int = 0
    sweeps: int = 0
    sweeps_failed: int = 0
    signals_projected: int = 0
    signals_raised: int = 0
    signal_sweeps: int = 0
    last_batch_at: float | None = None
    started_at: float = field(default_factory=time.time)


class WorkerState:
    """Opened once per worker process; safe to call from the projector thread."""

    def __init__(self, config: Config, bootstrap: str) -> None:
        # the credential of the SQL and replay views, before anything is served
        self.token = localauth.issue(config.worker_token_file)
        self.config = config
        self.bootstrap = bootstrap
        # the worker holds a chDB directory itself (it is the one readers go through)
        self.store: Store = backend.from_config(config, chdb="own").open_writer()
        self.store.lay_out(config.database)
        # Folding in config.folders processes, written here (docs/DESIGN.md §8).
        self.projector: Projection = projection(
            self.store,
            config.database,
            DeadLetterPublisher(bootstrap, config.dead_letter_topic),
            config.folders,
            contract=contract(config, self.store, bootstrap),
        )
        self.escalations = EventProducer(bootstrap, config.events_topic)
        dead = DeadLetterPublisher(bootstrap, config.dead_letter_topic)
        self.signal_projector = SignalProjection(self.store, config.database, dead)
        self.signals = SignalAgent(config, self.store, bootstrap)
        self.counters = Counters()
        self.latency = LatencyHistogram()
        self._lock = threading.Lock()
        self.stopping = False
        self.replay: Replayer | None = None
        # Health (streams/health.py): the partitions this worker holds, kept by the app's
        # rebalance callbacks, and a broker probe of its own.
        self.assigned: set[int] = set()
        self.writing_since: float | None = None
        self.probe = BrokerProbe(bootstrap, config.events_topic, config.consumer_group).start()

    def project(self, batch: Sequence[RawMessage]) -> None:
        started = time.perf_counter()
        self.writing_since = time.time()  # health: a batch stuck on the store shows
        try:
            result = self.projector.project_until_written(batch, lambda: self.stopping)
        finally:
            self.writing_since = None
        written_ms = time.time() * 1000
        with self._lock:
            self.latency.add(written_ms, (m.timestamp_ms for m in batch))
            counters = self.counters
            counters.batches += 1
            counters.projected += result.projected
            counters.skipped += result.skipped
            counters.dead += len(result.dead)
            for letter in result.dead:
                counters.dead_by_reason[letter.reason] = counters.dead_by_reason.get(letter.reason, 0) + 1
            counters.last_batch_at = time.time()
        _log.info(
            "batch_projected",
            size=len(batch),
            projected=result.projected,
            skipped=result.skipped,
            dead=len(result.dead),
            ms=round((time.perf_counter() - started) * 1000, 1),
        )

    def sweep(self) -> int:
        """One SLA watchdog pass; escalations go to the case topic like any other event.

        A failing pass is logged and counted, never raised: an exception escaping a Faust timer
        stops the whole worker. The next interval tries again, and its escalation ids are
        deterministic, so deadlines a failed pass missed or half sent are escalated once."""
        try:
            sent = watchdog.sweep(self.store.query, self.config.database, self.escalations.send)
            if sent:
                self.escalations.flush()
                _log.info("watchdog_escalated", events=sent)
        except Exception as exc:
            _log.error("watchdog_sweep_failed", error=repr(exc))
            with self._lock:
                self.counters.sweeps_failed += 1
            return 0
        with self._lock:
            self.counters.escalated += sent
            self.counters.sweeps += 1
        return sent

    def project_signals(self, batch: Sequence[RawMessage]) -> None:
        """Project a batch of the signals topic into the signals table."""
        result = self.signal_projector.project_until_written(batch, lambda: self.stopping)
        with self._lock:
            self.counters.signals_projected += result.projected
            self.counters.dead += len(result.dead)
            for letter in result.dead:
                counters = self.counters.dead_by_reason
                counters[letter.reason] = counters.get(letter.reason, 0) + 1

    def sweep_signals(self) -> int:
        """One signals pass (surges, recurring problems); a failure is logged and retried at
        the next tick: its marker did not move, so nothing is skipped."""
        try:
            sent = self.signals.sweep()
        except Exception as exc:
            _log.error("signal_sweep_failed", error=repr(exc))
            return 0
        with self._lock:
            self.counters.signals_raised += sent
            self.counters.signal_sweeps += 1
        return sent

    def start_replay(self, since: datetime | None, keep_old: bool) -> ReplayStatus:
        """Rebuild in a background thread on this worker's store (chDB: the only process that
        may open it); the live projection keeps running meanwhile."""
        with self._lock:
            if self.replay is not None and self.replay.status.phase not in ("done", "failed"):
                return self.replay.status
            self.replay = Replayer(
                self.config,
                self.store,
                self.bootstrap,
                rebuild_database(self.config.database),
                since=since,
                keep_old=keep_old,
            )
        threading.Thread(target=self._run_replay, name="replay", daemon=True).start()
        return self.replay.status

    def _run_replay(self) -> None:
        assert self.replay is not None
        try:
            self.replay.run()
        except Exception as exc:
            _log.error("replay_failed", error=repr(exc))
        finally:
            # Readers may now see other tables: cached states must come from the store again.
            self.projector.forget()

    def health(self) -> dict[str, Any]:
        with self._lock:
            c = self.counters
            judged = judge(
                self.probe.view(), set(self.assigned), c.last_batch_at, time.time(), self.writing_since
            )
            return {
                **judged,
                "namespace": self.config.namespace,
                "store": self.store.url,
                "home": str(self.config.home),
                "batches": c.batches,
                "projected": c.projected,
                "skipped": c.skipped,
                "dead": c.dead,
                "dead_by_reason": dict(c.dead_by_reason),
                "last_batch_at": c.last_batch_at,
                # Kafka timestamp → batch written, in ms buckets since start (streams/latency.py)
                "latency_ms_histogram": self.latency.snapshot(),
                "escalated": c.escalated,
                "watchdog_sweeps": c.sweeps,
                "watchdog_sweeps_failed": c.sweeps_failed,
                "signals_projected": c.signals_projected,
                "signals_raised": c.signals_raised,
                "signal_sweeps": c.signal_sweeps,
                "uptime_s": round(time.time() - c.started_at, 1),
                # the fold, contract check and rows: mypyc's build or the sources (civicloop/compiled.py)
                "per_event_path": civicloop.CHOSEN.describe(),
            }
