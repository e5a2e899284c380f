"""``civicloop bench live``: a real worker's throughput and event-to-projection latency.

A worker (``civicloop worker``, Faust) runs on a throwaway namespace with chDB in a temp dir
and the watchdog off. After a warm-up (group join, first batch), two measurements:

1. throughput: N pre-encoded simulated events produced as fast as possible, timed until
   ``projected_offsets`` shows all of them (polled every 100 ms); the ceiling is a bare
   consume + decode of the same topic, measured in the same run.
2. latency: events produced at ``rate``/s for ``seconds`` (bursts every 10 ms). The figure
   is the worker's own count (streams/latency.py): per event, its batch's write minus its
   Kafka CreateTime, in 10 ms buckets, read from its health report before and after the
   phase. Asking the store instead disturbs what is measured: chDB runs one statement at a
   time, so a poll every 50 ms delays the worker's inserts. As an independent check,
   ``projected_offsets`` is still polled, once a second: each message's latency is at most
   the end of the first poll that saw its offset projected minus its CreateTime (found by
   partition and offset in the delivery reports) — a loose upper bound the worker's figures
   must stay under.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Message

from civicloop.config import Config
from civicloop.projections.backend import open_reader
from civicloop.projections.read_model.progress import projected_offsets, remaining
from civicloop.projections.store.base import Reader
from civicloop.projections.store.worker import worker_health
from civicloop.stats import quantile_exact
from civicloop.streams.latency import BUCKET_MS, quantile_ms, since
from civicloop.tools.bench import broker, ceiling, simulated
from civicloop.tools.bench.broker import KeyValue, Sender
from civicloop.tools.bench.report import Figure, Ratio, Result, progress
from civicloop.tools.local.stack import start_worker, worker_process

RATIOS = [Ratio("worker_vs_ceiling", "worker / raw consume + decode", "worker", "raw_consume")]
WARM_UP = 2_000
THROUGHPUT_POLL_S = 0.1
CHECK_POLL_S = 1.0
TICK_S = 0.01
TIMEOUT_S = 600.0
LEVELS = (0.5, 0.9, 0.99)


def run(
    config: Config, count: int = 200_000, rate: int = 5_000, seconds: float = 30.0, seed: int = 11
) -> Result:
    paced_count = max(1, round(rate * seconds))
    with tempfile.TemporaryDirectory(prefix="civicloop-bench-live-") as tmp:
        cfg = broker.throwaway(config, Path(tmp))
        with broker.topics(cfg):
            # three seeds: three sets of cases, so no phase continues another's cases
            warm = _inputs(WARM_UP, seed, "warm-up")
            burst = _inputs(count, seed + 1, "throughput")
            paced = _inputs(paced_count, seed + 2, "latency")
            start_worker(cfg)
            try:
                reader = open_reader(cfg)
                _produce_and_wait(cfg, reader, warm)
                worker = _throughput(cfg, reader, burst)
                raw = ceiling.consume_and_decode(
                    cfg.kafka_bootstrap, cfg.events_topic, len(warm) + len(burst), cfg.replay_batch
                )
                latency, health = _latency(cfg, reader, paced, rate)
            finally:
                worker_process(cfg).stop(timeout=60)
    figures = {"raw_consume": raw, "worker": worker, "paced": latency.figure}
    notes = {
        "partitions": cfg.partitions,
        "warm_up_events": WARM_UP,
        **latency.notes(),
        "worker_projected": health.get("projected"),
        "worker_dead_letters": health.get("dead"),
        "worker_batches": health.get("batches"),
    }
    return Result("civicloop bench live", figures, RATIOS, notes)


def _settled_health(cfg: Config, timeout: float = 10.0) -> dict[str, Any]:
    """The worker's health once its last batch is counted: an offset shows as projected when
    its batch's marker is written, a moment before the worker updates its counters."""
    last: dict[str, Any] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        health = worker_health(cfg.worker_web_port) or {}
        if health and health.get("last_batch_at") == last.get("last_batch_at"):
            return health
        last = health
        time.sleep(0.5)
    return last


def _inputs(count: int, seed: int, what: str) -> list[KeyValue]:
    with progress() as bar:
        task = bar.add_task(f"simulating + encoding ({what})", total=count)
        return simulated.encoded(count, seed, lambda n: bar.advance(task, n)).messages


def _done(cfg: Config, reader: Reader, sent: dict[int, int]) -> bool:
    return remaining(sent, projected_offsets(reader.query, cfg.database, cfg.events_topic)) == 0


def _produce_and_wait(cfg: Config, reader: Reader, messages: list[KeyValue]) -> float:
    """Send ``messages``, then poll until all are projected; return the seconds it took."""
    started = time.perf_counter()
    sender = Sender(cfg.kafka_bootstrap, cfg.events_topic)
    sender.send(messages)
    sender.flush()
    deadline = time.monotonic() + TIMEOUT_S
    while not _done(cfg, reader, sender.high_offsets):
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"the worker did not project {len(messages)} events within "
                f"{TIMEOUT_S:.0f} s; its log is {worker_process(cfg).log_file}"
            )
        time.sleep(THROUGHPUT_POLL_S)
    return time.perf_counter() - started


def _throughput(cfg: Config, reader: Reader, messages: list[KeyValue]) -> Figure:
    with progress() as bar:
        bar.add_task(f"worker throughput: {len(messages):,} events", total=None)
        seconds = _produce_and_wait(cfg, reader, messages)
    return Figure("worker: produce → all projected", len(messages), seconds)


@dataclass
class Latency:
    figure: Figure
    upper_bounds_s: list[float]  # per message, from the once-a-second polls
    poll_s: list[float]
    achieved_rate: float
    counts: dict[int, int]  # the worker's: bucket bound ms → events

    def notes(self) -> dict[str, object]:
        bounds, polls = sorted(self.upper_bounds_s), sorted(self.poll_s)
        levels = {f"latency_p{round(q * 100)}_ms": quantile_ms(self.counts, q) for q in LEVELS}
        return {
            **levels,
            "latency_max_ms": max(self.counts, default=None),
            "latency_events_counted": sum(self.counts.values()),
            "latency_resolution": f"{BUCKET_MS} ms buckets, counted by the worker (CreateTime → written)",
            "latency_p99_upper_bound_ms": round((quantile_exact(bounds, 0.99) or 0.0) * 1000),
            "latency_check": f"projected offsets polled every {CHECK_POLL_S:.0f} s, "
            f"median poll {(quantile_exact(polls, 0.5) or 0.0) * 1000:.0f} ms",
            "paced_rate_achieved": round(self.achieved_rate),
        }


@dataclass
class _Poller:
    """Polls ``projected_offsets`` in a thread: (end time of each poll, offsets it saw)."""

    cfg: Config
    reader: Reader
    snapshots: list[tuple[float, dict[int, int]]] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def loop(self) -> None:
        while not self.stop.is_set():
            started = time.time()
            seen = projected_offsets(self.reader.query, self.cfg.database, self.cfg.events_topic)
            ended = time.time()
            self.snapshots.append((ended, seen))
            self.durations.append(ended - started)
            self.stop.wait(max(0.0, CHECK_POLL_S - (ended - started)))


def _latency(
    cfg: Config, reader: Reader, messages: list[KeyValue], rate: int
) -> tuple[Latency, dict[str, Any]]:
    """The paced phase: its latencies (the worker's counts between two health readings, and the
    polls' upper bounds), and the worker's health at its end."""
    produced: list[tuple[int, int, int]] = []  # (partition, offset, CreateTime ms)

    def record(msg: Message) -> None:
        produced.append((msg.partition() or 0, msg.offset() or 0, msg.timestamp()[1]))

    before = _settled_health(cfg)["latency_ms_histogram"]
    sender = Sender(cfg.kafka_bootstrap, cfg.events_topic, on_delivered=record)
    poller = _Poller(cfg, reader)
    thread = threading.Thread(target=poller.loop, name="bench-poller", daemon=True)
    thread.start()
    try:
        with progress() as bar:
            task = bar.add_task(f"latency at {rate:,} events/s", total=len(messages))
            seconds = _paced(sender, messages, rate, lambda n: bar.advance(task, n))
            sender.flush()
        deadline = time.monotonic() + TIMEOUT_S
        while not poller.snapshots or remaining(sender.high_offsets, poller.snapshots[-1][1]):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the worker did not catch up within {TIMEOUT_S:.0f} s")
            time.sleep(CHECK_POLL_S / 10)
    finally:
        poller.stop.set()
        thread.join(30)
    health = _settled_health(cfg)
    figure = Figure(f"produced at --rate {rate:,}/s (achieved)", len(messages), seconds)
    bounds, achieved = _latencies(produced, poller.snapshots), len(messages) / seconds
    counts = since(before, health["latency_ms_histogram"])
    return Latency(figure, bounds, poller.durations, achieved, counts), health


def _paced(sender: Sender, messages: list[KeyValue], rate: int, advance: Callable[[int], None]) -> float:
    """Send ``messages`` at ``rate``/s in a burst every ``TICK_S``; return the seconds taken."""
    started = time.perf_counter()
    sent = 0
    while sent < len(messages):
        due = min(len(messages), int((time.perf_counter() - started) * rate) + 1)
        if due > sent:
            sender.send(messages[sent:due])
            advance(due - sent)
            sent = due
        time.sleep(TICK_S)
    return time.perf_counter() - started


def _latencies(
    produced: list[tuple[int, int, int]], snapshots: list[tuple[float, dict[int, int]]]
) -> list[float]:
    """For each message, the first snapshot that includes its offset, minus its CreateTime."""
    out = []
    by_partition: dict[int, list[tuple[int, int]]] = {}
    for partition, offset, created_ms in produced:
        by_partition.setdefault(partition, []).append((offset, created_ms))
    for partition, messages in by_partition.items():
        i = 0
        for offset, created_ms in sorted(messages):
            while snapshots[i][1].get(partition, -1) < offset:
                i += 1  # projected offsets only grow, so one pass over the snapshots suffices
            out.append(snapshots[i][0] - created_ms / 1000)
    return out
