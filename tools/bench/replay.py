"""``civicloop bench replay``: rebuilding every projection against the raw consume ceiling.

N simulated events go, pre-encoded, to a throwaway namespace's case-events topic. Then, on
the same messages: (1) the ceiling, a bare consumer with the Replayer's settings decoding each
message; (2) ``Replayer.run()`` into a fresh database (chDB in a temp dir, a server, or a
cluster). The
replay runs in a child process of its own, so its peak RSS is the replay's alone and not the
benchmark's N encoded messages. The ceiling is measured before and after it (the faster
counts), so a busy moment on a shared machine does not flatter the ratio.
"""

from __future__ import annotations

import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import civicloop
from civicloop import compiled, log
from civicloop.config import Config
from civicloop.projections.backend import open_store
from civicloop.projections.rebuild import rebuild_database
from civicloop.projections.tables import schema
from civicloop.streams.replayer import Replayer, ReplayStatus
from civicloop.tools.bench import broker, ceiling, simulated
from civicloop.tools.bench.report import (
    Figure,
    Ratio,
    Result,
    RssWatch,
    peak_rss_mb,
    progress,
)
from civicloop.tools.bench.stores import Backend, target

RATIOS = [Ratio("replay_vs_ceiling", "replay / raw consume + decode", "replay", "raw_consume")]


def run(config: Config, count: int = 1_000_000, backend: Backend = Backend.chdb, seed: int = 7) -> Result:
    with tempfile.TemporaryDirectory(prefix="civicloop-bench-replay-") as tmp:
        cfg = broker.throwaway(config, Path(tmp))
        live = cfg.database
        databases = [live, rebuild_database(cfg.database), f"{rebuild_database(cfg.database)}_old"]
        with broker.topics(cfg), target(backend, Path(tmp), databases) as where:
            cfg = replace(cfg, clickhouse_url=where.url, clickhouse_cluster=where.cluster)
            cases, produced = _feed(cfg, count, seed)
            raw = _ceiling(cfg, count)
            replayed = _replay_in_child(cfg)
            raw = min(raw, _ceiling(cfg, count), key=lambda f: f.seconds)
    figures = {
        "raw_consume": raw,
        "replay": Figure(
            f"Replayer.run into a fresh database ({backend})", replayed["done"], replayed["seconds"]
        ),
    }
    notes = {
        "partitions": cfg.partitions,
        "store": str(backend),
        "events": count,
        "cases_simulated": cases,
        "cases_projected": replayed["cases"],
        "replay_peak_rss_mb": replayed["peak_rss_mb"],
        "replay_rss_peak_sampled": replayed["peak_sampled"],
        "fold_processes": replayed["folders"],
        "fold_process_peak_rss_mb": replayed["fold_peak_rss_mb"],
        "replay_phase": replayed["phase"],
        "produce_events_per_s": round(count / produced),
    }
    return Result("civicloop bench replay", figures, RATIOS, notes)


def _feed(cfg: Config, count: int, seed: int) -> tuple[int, float]:
    """Generate and produce the events; return (cases, seconds the produce took)."""
    with progress() as bar:
        making = bar.add_task("simulating + encoding", total=count)
        sim = simulated.encoded(count, seed, lambda n: bar.advance(making, n))
        sending = bar.add_task(f"producing to {cfg.events_topic}", total=count)
        sender = broker.Sender(cfg.kafka_bootstrap, cfg.events_topic)
        seconds = broker.send_all(sender, sim.messages, lambda n: bar.advance(sending, n))
    return sim.cases, seconds


def _ceiling(cfg: Config, count: int) -> Figure:
    with progress() as bar:
        bar.add_task("raw consume + decode (ceiling)", total=None)
        return ceiling.consume_and_decode(cfg.kafka_bootstrap, cfg.events_topic, count, cfg.replay_batch)


def _replay_in_child(cfg: Config) -> dict[str, Any]:
    # spawn, not fork: a forked child would start with the parent's pages, and its RSS too.
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        try:
            return pool.submit(replay_once, cfg).result()
        except BrokenProcessPool as error:
            changed = compiled.changed_since(civicloop.CHOSEN)
            if changed is None:
                raise
            raise RuntimeError(f"the replay's process is gone: {changed}") from error


def replay_once(cfg: Config) -> dict[str, Any]:
    """One timed ``Replayer.run()`` (in the child process), with the cases it projected, and
    where its resident set peaked (the phase and events done at the largest sample)."""
    log.configure(level="warning")
    store = open_store(cfg.clickhouse_url, cfg.home, cfg.clickhouse_cluster)
    last: list[ReplayStatus] = []

    def doing() -> str:
        return f"{last[-1].phase} at {last[-1].done:,} events" if last else "starting"

    try:
        with progress() as bar, RssWatch(doing) as watch:
            task = bar.add_task("replay", total=None)

            def show(status: ReplayStatus) -> None:
                last[:] = [status]
                bar.update(
                    task,
                    description=f"replay: {status.phase}",
                    completed=status.done,
                    total=status.total or None,
                )

            started = time.perf_counter()
            status = Replayer(
                cfg, store, cfg.kafka_bootstrap, rebuild_database(cfg.database), on_progress=show
            ).run()
            seconds = time.perf_counter() - started
            replay_peak = peak_rss_mb()
        ((cases,),) = store.query(f"SELECT count() FROM {cfg.database}.{schema.CASE_LIFECYCLE} FINAL")
    finally:
        store.close()
    return {
        "done": status.done,
        "seconds": seconds,
        "phase": status.phase,
        "cases": int(cases),
        "peak_rss_mb": replay_peak,
        "peak_sampled": f"{watch.peak_mb:,.0f} MB during {watch.peak_during}",
        "folders": cfg.folders,
        "fold_peak_rss_mb": watch.children_peak_mb if cfg.folders > 1 else 0.0,
    }
