"""``civicloop bench chaos``: kill workers and restart the broker while a city drains, then
check that nothing was lost or counted twice, and how fast each failure was recovered.

In a temporary home with a Kafka broker of its own (the bench restarts it) and a ClickHouse
server, N supervised workers (``civicloop up``'s supervisor: a killed worker is restarted with
backoff) share one consumer group. A simulated city is produced at ``rate`` events/s; while it
flows, the bench takes its chaos actions in a seeded random order, a few seconds apart: kill -9
of a random worker (not its supervisor), and broker restarts, alternately graceful
(``kafka down`` / ``kafka up``) and kill -9. After each action it measures the **recovery
time**: from the worker's death (or the broker going down) until every partition the dead
worker held (for the broker: every partition) has a newer ``projection_progress`` marker than
at that moment — "projecting again" (or, once the asked events are all out, is projected to
its end). Production stops at exactly ``events`` events; actions left then are taken after it
(the report counts those taken while events flowed: choose ``rate`` so that production spans
them). Then the drain (last produce → all projected) is timed, and the workers' signal sweeps
(every second) are awaited until every detector evaluated every closed window and the signals
topic is projected.

The same events are then produced to a second namespace and projected by one worker with no
chaos (the clean run), its signals awaited alike. Every projection table — ``signals``
included — is compared by row checksums (``checksums.py``), and the closed-loop metrics by
department; each difference is listed. The chaos run's detectors are swept once more from an
empty marker — what a replay does after rebuilding the projections — and must raise exactly its
signals table, field for field. ``keep``: both databases stay on a configured server.
"""

from __future__ import annotations

import json
import random
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from civicloop import log
from civicloop.config import Config
from civicloop.projections.backend import open_store
from civicloop.projections.metrics.closed_loop import metrics
from civicloop.projections.read_model.progress import projected_offsets, remaining
from civicloop.projections.signals import evaluate
from civicloop.projections.signals.arrival import CaseLog
from civicloop.projections.store.base import Reader
from civicloop.projections.store.worker import worker_health
from civicloop.schemas.codec import encode
from civicloop.schemas.signals import signal_to_json
from civicloop.streams import kafka
from civicloop.streams.signals import case_log
from civicloop.tools.bench import checksums, stores
from civicloop.tools.bench.broker import KeyValue, Sender
from civicloop.tools.bench.chaos_report import AFTER_PRODUCTION, Action, ChaosReport, Plan
from civicloop.tools.bench.simulated import START, scale
from civicloop.tools.local import stack
from civicloop.tools.local.kafka_broker import LocalKafka
from civicloop.tools.local.process import free_port
from civicloop.tools.simulate import simulate

_log = log.get(__name__)
POLL_S = 0.2  # how often recovery and drain are checked
RECOVERY_LIMIT_S = 180.0  # a failure not recovered by then is reported as such
SETTLE_LIMIT_S = 600.0  # signals not settled by then fail the run
SIGNALS_INTERVAL_S = 1.0  # each worker's signal sweep
TICK_S = 0.02
NOW = datetime(2030, 1, 1, tzinfo=UTC)  # metrics "as of": after every simulated deadline


@dataclass
class _Slot:
    name: str
    config: Config


class _Producer:
    """Produces ``count`` simulated events at ``rate``/s in a thread; keeps every message
    produced, in order, for the clean run."""

    def __init__(self, address: str, topic: str, rate: int, count: int, seed: int) -> None:
        self.sender = Sender(address, topic)
        self.rate, self.count = rate, count
        self.sent: list[KeyValue] = []
        self._source = _city(seed, count)
        self._thread = threading.Thread(target=self._run, name="chaos-producer", daemon=True)
        self.started = self.finished = 0.0

    def start(self) -> None:
        self.started = time.monotonic()
        self._thread.start()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def done(self) -> bool:
        return self.finished > 0

    def wait(self) -> None:
        self._thread.join()
        self.sender.flush()

    def _run(self) -> None:
        while len(self.sent) < self.count:
            due = min(int(self.elapsed() * self.rate) + 1, self.count)
            batch = [next(self._source) for _ in range(max(0, due - len(self.sent)))]
            self.sender.send(batch)
            self.sent.extend(batch)
            time.sleep(TICK_S)
        self.sender.flush()
        self.finished = time.monotonic()


def _city(seed: int, count: int) -> Iterator[KeyValue]:
    """A simulated city of at least ``count`` events (one month after another, should the
    first fall short: each later in time than the one before)."""
    days, per_day = scale(count)
    month = 0
    while True:
        for event in simulate(days, per_day, seed + month, START + timedelta(days=days * month)):
            yield event.case_id.encode(), encode(event)
        month += 1


def run(config: Config, plan: Plan) -> ChaosReport:
    report = ChaosReport(plan)
    with tempfile.TemporaryDirectory(prefix="civicloop-bench-chaos-") as tmp:
        home = Path(tmp)
        name = f"chaos{uuid.uuid4().hex[:8]}"
        base = replace(
            config,
            home=home,
            kafka_bootstrap="",
            namespace=name,
            partitions=plan.partitions,
            watchdog_interval=0.0,
            signals_interval=SIGNALS_INTERVAL_S,
            worker_id="",
        )
        broker = LocalKafka(base)
        address = broker.up()
        chaos_cfg = replace(base, kafka_bootstrap=address)
        clean_cfg = replace(chaos_cfg, namespace=f"{name}clean")
        try:
            databases = [chaos_cfg.database, clean_cfg.database]
            with stores.target(stores.Backend.server, home, databases, keep=plan.keep) as where:
                url = where.url
                chaos_cfg = replace(chaos_cfg, clickhouse_url=url)
                clean_cfg = replace(clean_cfg, clickhouse_url=url)
                sent = _chaos(chaos_cfg, broker, plan, report)
                _clean_run(clean_cfg, report, sent)
                reader = open_store(url)
                try:
                    report.differences = _compare(reader, chaos_cfg.database, clean_cfg.database)
                    report.differences += _swept_again(reader, chaos_cfg)
                    report.signals = {
                        run: _signal_rows(reader, cfg.database)
                        for run, cfg in (("chaos", chaos_cfg), ("clean", clean_cfg))
                    }
                finally:
                    reader.close()
                if plan.keep:
                    report.databases = databases
        finally:
            broker.kill()  # the bench's own, in a home deleted next: nothing to stop gracefully
    return report


def _chaos(cfg: Config, broker: LocalKafka, plan: Plan, report: ChaosReport) -> list[KeyValue]:
    """The chaos run; returns every message it produced, in order (for the clean run)."""
    kafka.ensure_topics(cfg, cfg.kafka_bootstrap)
    slots = [
        _Slot(
            f"w{i}",
            replace(
                cfg,
                home=cfg.home / f"w{i}",
                worker_web_port=free_port(),
                worker_id=f"w{i}" if plan.static else "",
            ),
        )
        for i in range(plan.workers)
    ]
    for slot in slots:
        stack.start_worker(slot.config)
    reader = open_store(cfg.clickhouse_url)
    producer = _Producer(cfg.kafka_bootstrap, cfg.events_topic, plan.rate, plan.events, plan.seed)
    rng = random.Random(plan.seed)
    kinds = ["kill"] * plan.kills + [
        "broker-graceful" if n % 2 == 0 else "broker-kill" for n in range(plan.broker_restarts)
    ]
    rng.shuffle(kinds)
    try:
        producer.start()
        for kind in kinds:
            time.sleep(rng.uniform(*plan.gap_s))
            if kind == "kill":
                action = _kill(cfg, reader, rng, slots, producer)
            else:
                action = _restart_broker(cfg, reader, broker, kind, producer)
            _log.info("chaos_action", **asdict(action))
            report.actions.append(action)
        producer.wait()
        report.events, report.produce_s = len(producer.sent), producer.finished - producer.started
        report.drain_s = _drain(cfg, reader, producer.sender.high_offsets, producer.finished)
        _settle_signals(cfg, reader)
        report.restarts = {s.name: (stack.supervisor_status(s.config) or _NoStatus()).restarts for s in slots}
    finally:
        reader.close()
        for slot in slots:  # done (all projected and swept) or failed: SIGKILL, nothing to finish
            stack.worker_process(slot.config).kill()
    return producer.sent


class _NoStatus:
    restarts = 0


def _kill(cfg: Config, reader: Reader, rng: random.Random, slots: list[_Slot], producer: _Producer) -> Action:
    """SIGKILL a random running worker (its supervisor restarts it); recovery = until each
    partition it held is projected past where it was at its death."""
    deadline = time.monotonic() + RECOVERY_LIMIT_S
    while True:
        slot = rng.choice(slots)
        health = worker_health(slot.config.worker_web_port) or {}
        held = [p["partition"] for p in health.get("partitions", []) if p["assigned_here"]]
        at, started = producer.elapsed(), time.monotonic()
        restarts = (stack.supervisor_status(slot.config) or _NoStatus()).restarts
        if health and stack.kill_worker_only(slot.config) is not None:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"no worker was up to kill for {RECOVERY_LIMIT_S:.0f} s")
        time.sleep(1.0)  # that one is being restarted: pick again
    marks = projected_offsets(reader.query, cfg.database, cfg.events_topic)
    action = Action("kill", round(at, 1), slot.name, partitions=held)
    if not held:
        action.note = "held no partitions at its death"
        return action
    if producer.done:  # nothing left to project: recovered = the worker is back and answering
        action.note = AFTER_PRODUCTION
        action.recovery_s = _until_answering(slot, restarts, started)
        return action
    action.recovery_s, action.others_paused_s = _until_projected_past(
        cfg, reader, marks, held, started, producer
    )
    return action


def _until_answering(slot: _Slot, restarts: int, since: float) -> float | None:
    """Seconds from ``since`` until the killed worker's supervisor restarted it (more than
    ``restarts`` times) and it answers its health view (None if not within RECOVERY_LIMIT_S)."""
    while time.monotonic() < since + RECOVERY_LIMIT_S:
        status = stack.supervisor_status(slot.config)
        if status is not None and status.restarts > restarts and worker_health(slot.config.worker_web_port):
            return round(time.monotonic() - since, 2)
        time.sleep(POLL_S)
    return None


def _restart_broker(
    cfg: Config, reader: Reader, broker: LocalKafka, kind: str, producer: _Producer
) -> Action:
    at = producer.elapsed()
    started = time.monotonic()
    marks = projected_offsets(reader.query, cfg.database, cfg.events_topic)
    if kind == "broker-graceful":
        broker.down()
    else:
        broker.kill()
    broker.up()
    down_s = time.monotonic() - started
    action = Action(kind, round(at, 1), "broker", partitions=list(range(cfg.partitions)))
    action.recovery_s, _ = _until_projected_past(cfg, reader, marks, action.partitions, started, producer)
    action.note = f"{AFTER_PRODUCTION}; " if producer.done else ""
    action.note += f"broker back after {down_s:.1f} s"
    return action


def _until_projected_past(
    cfg: Config,
    reader: Reader,
    marks: dict[int, int],
    partitions: list[int],
    since: float,
    producer: _Producer,
) -> tuple[float | None, float | None]:
    """(seconds from ``since`` until every one of ``partitions`` has a progress marker past
    ``marks``, or — production over — is projected to its last message; None if not within
    RECOVERY_LIMIT_S —, the longest time meanwhile that any other partition went without a new
    marker — None if there is no other partition)."""
    deadline = since + RECOVERY_LIMIT_S
    others = [p for p in range(cfg.partitions) if p not in partitions]
    last = dict(marks)
    advanced = dict.fromkeys(others, since)
    paused = 0.0
    while time.monotonic() < deadline:
        now = projected_offsets(reader.query, cfg.database, cfg.events_topic)
        moment = time.monotonic()
        for p in others:
            if now.get(p, -1) > last.get(p, -1):
                advanced[p], last[p] = moment, now[p]
            paused = max(paused, moment - advanced[p])
        ends = producer.sender.high_offsets if producer.done else {}
        if all(now.get(p, -1) > marks.get(p, -1) or now.get(p, -1) >= ends.get(p, 0) for p in partitions):
            return round(moment - since, 2), round(paused, 2) if others else None
        time.sleep(POLL_S)
    return None, round(paused, 2) if others else None


def _drain(cfg: Config, reader: Reader, targets: dict[int, int], since: float, limit: float = 900.0) -> float:
    deadline = time.monotonic() + limit
    while remaining(targets, projected_offsets(reader.query, cfg.database, cfg.events_topic)):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the chaos run did not drain within {limit:.0f} s")
        time.sleep(POLL_S)
    return time.monotonic() - since


def _clean_run(cfg: Config, report: ChaosReport, messages: list[KeyValue]) -> None:
    """The same messages, in the same order, projected by one worker with no chaos."""
    kafka.ensure_topics(cfg, cfg.kafka_bootstrap)
    sender = Sender(cfg.kafka_bootstrap, cfg.events_topic)
    sender.send(messages)
    sender.flush()
    single = replace(cfg, home=cfg.home / "clean", worker_web_port=free_port())
    started = time.monotonic()
    stack.start_worker(single)
    reader = open_store(cfg.clickhouse_url)
    try:
        _drain(cfg, reader, sender.high_offsets, started)
        _settle_signals(cfg, reader)
    finally:
        reader.close()
        stack.worker_process(single).kill()  # all projected and swept: nothing to finish
    report.clean_s = time.monotonic() - started


def _settle_signals(cfg: Config, reader: Reader) -> None:
    """Wait until every detector evaluated every window the projected reports closed and the
    signals they raised are projected: the signals table is then final for these events."""
    settings = evaluate.SignalSettings.from_config(cfg)
    cases = case_log(cfg, cfg.kafka_bootstrap)
    deadline = time.monotonic() + SETTLE_LIMIT_S
    while not _settled(cfg, reader, settings, cases):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the signals of {cfg.database} did not settle within {SETTLE_LIMIT_S:.0f} s")
        time.sleep(POLL_S)


def _settled(cfg: Config, reader: Reader, settings: evaluate.SignalSettings, cases: CaseLog) -> bool:
    want = evaluate.closed_until(reader.query, cfg.database, settings, cases)
    marks = evaluate.progress(reader.query, cfg.database)
    if any(marks.get(detector) is None or marks[detector] < until for detector, until in want.items()):
        return False
    ends = {p: end - 1 for p, end in kafka.end_offsets(cfg.kafka_bootstrap, cfg.signals_topic).items() if end}
    return not remaining(ends, projected_offsets(reader.query, cfg.database, cfg.signals_topic))


def _swept_again(reader: Reader, cfg: Config) -> list[str]:
    """What a replay's sweep would change: every detector from an empty marker (as a replay
    leaves it) over the chaos run's projections, against its signals table, field for field."""
    settings = evaluate.SignalSettings.from_config(cfg)
    steps = evaluate.sweep(reader.query, cfg.database, settings, case_log(cfg, cfg.kafka_bootstrap), marks={})
    again = {
        s.event_id: json.dumps(signal_to_json(s), ensure_ascii=False) for step in steps for s in step.signals
    }
    rows = reader.query(f"SELECT event_id, detail FROM {cfg.database}.signals FINAL")
    stored = {str(event_id): str(detail) for event_id, detail in rows}
    differing = sorted(k for k in set(again) | set(stored) if again.get(k) != stored.get(k))
    if not differing:
        return []
    shown = ", ".join(
        f"{k} ({'not raised again' if k not in again else 'new' if k not in stored else 'differs'})"
        for k in differing[: checksums.SHOWN]
    )
    return [f"signals swept again from an empty marker (a replay): {len(differing)} differ: {shown}"]


def _signal_rows(reader: Reader, database: str) -> int:
    return int(reader.query(f"SELECT count() FROM {database}.signals FINAL")[0][0])


def _compare(reader: Reader, chaos: str, clean: str) -> list[str]:
    found = checksums.differences(reader, chaos, clean)
    got, want = (
        metrics(reader.query, chaos, "department", now=NOW),
        metrics(reader.query, clean, "department", now=NOW),
    )
    if got != want:
        wanted = {row["group"]: row for row in want}
        for row in got:
            other = wanted.pop(row["group"], None)
            diff = sorted(k for k in row if other is None or row[k] != other.get(k))
            if diff:
                found.append(f"metrics, department {row['group']!r}: {', '.join(diff)} differ")
        found.extend(f"metrics, department {g!r}: only in the clean run" for g in wanted)
    return found
