"""The signals agent: a timer in the worker that raises surges and recurring problems.

Each sweep (``CIVICLOOP_SIGNALS_INTERVAL``) asks how far the case projections are complete in
event time, lets every detector evaluate the windows completed since its marker
(``projections/signals/evaluate.py``), sends the signals to ``<ns>.signals`` keyed by cell, and
moves the marker only after Kafka confirmed them. A kill -9 in between raises them again with
the same ids (the signals table keeps one row per id), never loses one. Nothing is held in
memory between sweeps. docs/SIGNALS.md.
"""

from __future__ import annotations

from datetime import UTC, datetime

from civicloop import log
from civicloop.config import Config
from civicloop.projections.signals import evaluate
from civicloop.projections.store.base import Query, Store
from civicloop.projections.tables import progress
from civicloop.projections.tables.schema import EVENT_LOG
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

    def sweep(self, now: datetime | None = None) -> int:
        """One pass; returns how many signals were sent (re-sent ones included)."""
        ends = kafka.end_offsets(self.bootstrap, self.config.events_topic)
        until = complete_until(self.store.query, self.config.database, self.config.events_topic, ends, now)
        if until is None:
            return 0
        sent = 0
        steps = evaluate.sweep(self.store.query, self.config.database, self.settings, until)
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


def complete_until(
    query: Query, database: str, topic: str, ends: dict[int, int], now: datetime | None = None
) -> datetime | None:
    """The event time up to which every report is projected, or None when unknown yet.

    A partition whose messages are all projected holds nothing older back: it allows up to
    ``now``. One still catching up allows up to the newest report projected from it, since a
    partition carries its reports in the order they were produced (one case's events in order;
    producers send as reports arrive, simulators and importers in time order). Reports that
    come later than ``CIVICLOOP_SIGNALS_LATENESS`` after their window are counted by a replay,
    not by the live sweep that already passed that window.
    """
    moment = now or datetime.now(UTC)
    done = progress.projected_offsets(query, database, topic)
    lagging = tuple(p for p, end in ends.items() if end > 0 and done.get(p, -1) < end - 1)
    if not lagging:
        return moment
    rows = query(
        f"SELECT partition, max(occurred_at) FROM {database}.{EVENT_LOG} "
        "WHERE topic = %(topic)s AND type = 'CaseReported' AND partition IN %(lagging)s GROUP BY partition",
        {"topic": topic, "lagging": lagging},
    )
    bounds = {int(p): t for p, t in rows}
    if len(bounds) < len(lagging):
        return None  # a partition has projected no report yet: nothing is known of it
    return min(min(bounds.values()), moment)
