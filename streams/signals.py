"""The signals agent: a timer in the worker that raises surges and recurring problems.

Each sweep (``CIVICLOOP_SIGNALS_INTERVAL``) lets every detector evaluate the windows that every
partition of the case topic has closed since its marker (``projections/signals/evaluate.py``,
``arrival.py``), sends the signals to ``<ns>.signals`` keyed by cell, and moves the marker only
after Kafka confirmed them. What a window raises depends on the case topic alone, so a kill -9
in between, another worker sweeping the same windows, or a replay raise the same signals with
the same ids (the signals table keeps one row per id), never lose one. Nothing is held in
memory between sweeps. docs/SIGNALS.md.
"""

from __future__ import annotations

from civicloop import log
from civicloop.config import Config
from civicloop.projections.signals import evaluate
from civicloop.projections.signals.arrival import CaseLog
from civicloop.projections.store.base import Store
from civicloop.schemas.signals import encode_signal
from civicloop.streams import kafka
from civicloop.streams.producer import EventProducer

_log = log.get(__name__)
STEPS_PER_SWEEP = 8  # bounded work per tick: the sweep shares its thread with the SLA watchdog


class SignalAgent:
    def __init__(self, config: Config, store: Store, bootstrap: str) -> None:
        self.config, self.store, self.bootstrap = config, store, bootstrap
        self.settings = evaluate.SignalSettings.from_config(config)
        self.producer = EventProducer(bootstrap, config.signals_topic)

    def sweep(self) -> int:
        """One pass; returns how many signals were sent (re-sent ones included)."""
        cases = case_log(self.config, self.bootstrap)
        sent = 0
        steps = evaluate.sweep(self.store.query, self.config.database, self.settings, cases)
        for n, step in enumerate(steps):
            if n >= STEPS_PER_SWEEP:
                break  # the rest next tick
            for signal in step.signals:
                self.producer.send_raw(signal.key, encode_signal(signal))
            self.producer.flush()  # confirmed by Kafka before the marker moves
            evaluate.mark(self.store, self.config.database, step)
            sent += len(step.signals)
            if step.signals:
                _log.info(
                    "signals_raised",
                    detector=step.detector,
                    until=step.until.isoformat(),
                    signals=len(step.signals),
                )
        return sent


def case_log(config: Config, bootstrap: str) -> CaseLog:
    """The case topic and all its partitions: each must close a window before it is evaluated."""
    ends = kafka.end_offsets(bootstrap, config.events_topic)
    return CaseLog(config.events_topic, frozenset(ends))
