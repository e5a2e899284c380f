"""Rebuilding the projections from the event log: identical to what the live worker built
(row-level checksums), readers never see a half-built table, and an interrupted rebuild resumes."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from civicloop.cli import app
from civicloop.config import Config
from civicloop.projections.backend import open_store
from civicloop.projections.rebuild import rebuild_database
from civicloop.schemas.revisions import CURRENT
from civicloop.streams import kafka
from civicloop.streams.contract import KafkaLedger
from civicloop.streams.replayer import Replayer, ReplayStatus
from civicloop.tools import feed
from civicloop.tools.simulate import simulate
from tests.support.checksums import checksum_sql, checksums
from tests.support.workers import Worker

pytestmark = [
    pytest.mark.integration,
    pytest.mark.every_backend("the rebuild's switch and its resume are each backend's own"),
    pytest.mark.parallel_fold("the replay folds the next batch in fold processes beside the write"),
]
# The replay reads, folds and writes REPLAY_BATCH events at a time (CIVICLOOP_REPLAY_BATCH, 20,000
# by default). What these tests check happens between batches — a reader during the rebuild,
# the switch after the last, a resume after the first — so they make many small batches: ten
# and more of 2,000 here (20,000 events), as ten of 20,000 did with 200,000 events. The
# equality and the switch do not depend on a batch's size. The 1 M and 10 M scale (rate,
# memory, every case projected) is `civicloop bench replay`'s, in `make bench`
# (docs/BENCHMARKS.md), at the default batch.
REPLAY_BATCH = 2_000
EVENTS = 10 * REPLAY_BATCH


@pytest.fixture
def config(config: Config, monkeypatch: pytest.MonkeyPatch) -> Config:
    """The deployment's, replaying REPLAY_BATCH events at a time (in the worker, which runs a
    chDB replay, and in this process, which runs a server's)."""
    monkeypatch.setenv("CIVICLOOP_REPLAY_BATCH", str(REPLAY_BATCH))
    return replace(config, replay_batch=REPLAY_BATCH)


def _city(size: int) -> Iterator:
    start = datetime(2026, 6, 1, tzinfo=UTC)
    # About eight events a case: enough cases that the 60 days hold more than `size` events.
    return itertools.islice(simulate(days=60, cases_per_day=size / 360, seed=7, start=start), size)


def test_rebuild_equals_the_live_projections_and_readers_never_see_half(
    config: Config, worker: Worker
) -> None:
    sent = feed.send(config, _city(EVENTS), "city", total=EVENTS)
    feed.wait_projected(config, sent, timeout=300)
    reader = worker.reader()
    live = checksums(reader, config.database)
    assert live["event_log"][0] == EVENTS and live["dead_letters"][0] == 0
    # the worker recorded where the contract's current revision took effect on each partition
    # before judging anything there: at the start, as nothing was projected before it
    recorded = KafkaLedger(config, config.kafka_bootstrap).read()
    assert sorted((b.partition, b.revision, b.offset) for b in recorded) == [
        (p, CURRENT, 0) for p in sorted(sent.high_offsets)
    ]

    seen: list[tuple] = []
    failed: list[Exception] = []
    done = threading.Event()

    def read_while_replaying() -> None:
        query = checksum_sql(reader, config.database, "case_lifecycle")
        while not done.is_set():
            try:
                seen.append(reader.query(query)[0])
            except Exception as exc:
                failed.append(exc)

    watcher = threading.Thread(target=read_while_replaying)
    watcher.start()
    try:
        result = CliRunner().invoke(app, ["replay"])
    finally:
        done.set()
        watcher.join()

    assert result.exit_code == 0, result.output
    assert f"rebuilt {EVENTS:,} events" in result.output
    assert checksums(reader, config.database) == live
    assert failed == [], "a reader found the tables half switched"
    assert len(seen) > 1 and set(seen) == {live["case_lifecycle"]}


class _Interrupt(Exception):
    pass


def _interrupted_then_run_again(
    config: Config, worker: Worker, total: int, interrupt: Callable[[ReplayStatus], bool]
) -> tuple[ReplayStatus, dict[str, tuple], dict[str, tuple], dict[str, tuple]]:
    """``total`` events projected live; a replay interrupted where ``interrupt`` says, then run
    again. Returns the second run's status and the checksums: live, after the interrupted run,
    after the second run."""
    sent = feed.send(config, _city(total), "city", total=total)
    feed.wait_projected(config, sent, timeout=300)
    live = checksums(worker.reader(), config.database)
    worker.kill()  # the rebuild below needs the store to itself (chDB)
    store = open_store(config.clickhouse_url)
    try:

        def stop(status: ReplayStatus) -> None:
            if interrupt(status):
                raise _Interrupt

        address = kafka.bootstrap(config)
        target = rebuild_database(config.database)
        with pytest.raises(_Interrupt):
            Replayer(config, store, address, target, on_progress=stop).run()
        interrupted = checksums(store, config.database)
        again = Replayer(config, store, address, target).run()
        return again, live, interrupted, checksums(store, config.database)
    finally:
        store.close()


def test_an_interrupted_rebuild_resumes_and_finishes_identical(config: Config, worker: Worker) -> None:
    # three batches: the first written, then interrupted; the resumed run writes the other two
    total = 3 * REPLAY_BATCH
    resumed, live, _, rebuilt = _interrupted_then_run_again(
        config, worker, total, lambda status: status.phase == "rebuilding" and status.done > 0
    )

    assert 0 < resumed.done < total, "the second run continued, it did not start over"
    assert rebuilt == live


def test_a_rebuild_interrupted_after_its_switch_runs_again_from_the_start(
    config: Config, worker: Worker
) -> None:
    # The switch moved the rebuilt tables in, then the catch-up was interrupted: the rebuild's
    # consumer group still holds offsets at the end of the log, but the next run's tables are
    # new. Resuming from those offsets would switch empty projections in; it starts over.
    total = 2 * REPLAY_BATCH
    again, live, interrupted, rebuilt = _interrupted_then_run_again(
        config, worker, total, lambda status: status.phase == "catching-up"
    )

    assert interrupted == live, "the first run switched complete tables in"
    assert again.done == total, "the second run read the whole log again"
    assert rebuilt == live
