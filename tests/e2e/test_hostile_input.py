"""The hostile input suite: over 2,000 hostile messages of every kind, interleaved with good
events, through a real broker into a real worker, on chDB and on the server. Every hostile
message becomes a dead letter with its reason and raw bytes, the worker never stalls or exits,
and the good events' projections equal those of a second deployment fed only the good ones.
Among them: case ids the id rule refuses (NUL, ESC, quotes, backslash, bidi controls), and 500
projected events' ids reused with another body (``conflicting_duplicate``: the event log keeps
the first body) beside 200 identical copies (redeliveries: nothing changes)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from civicloop.config import Config
from civicloop.projections.backend import from_url
from civicloop.projections.store.worker import worker_health
from civicloop.schemas.event import Event
from civicloop.streams import settings
from tests.conftest import PARALLEL_FOLD
from tests.support import case_events as ev
from tests.support.hostile import Hostile, Message, good
from tests.support.workers import Worker, deployment, wait_projected
from tests.support.workload import workload

pytestmark = [
    pytest.mark.integration,
    pytest.mark.every_backend("hostile strings must round-trip through each backend's writer"),
]
GOOD_CASES = 300
SIMPLE_CASES = 50  # reported and registered, dispatched only after misrouted copies of them
CONFLICTING, COPIED = 500, 200  # projected events whose id comes again: another body, the same
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)


class Sender:
    """A plain producer (any client could be the hostile one) that records where each went."""

    def __init__(self, config: Config) -> None:
        self.topic = config.events_topic
        self.producer = Producer({"bootstrap.servers": config.kafka_bootstrap, **settings.PRODUCER})
        self.failed: list[str] = []

    def send(
        self, messages: Sequence[Message], partitions: Sequence[int | None] | None = None
    ) -> list[tuple[int, int]]:
        placed: list[tuple[int, int] | None] = [None] * len(messages)

        def delivered(n: int) -> Any:
            def report(err: Any, msg: Any) -> None:
                if err is not None:
                    self.failed.append(str(err))
                else:
                    placed[n] = (msg.partition(), msg.offset())

            return report

        for n, m in enumerate(messages):
            extra = {} if not partitions or partitions[n] is None else {"partition": partitions[n]}
            while True:
                try:
                    self.producer.produce(
                        self.topic,
                        key=m.key,
                        value=m.value,
                        headers=m.headers,
                        on_delivery=delivered(n),
                        **extra,
                    )
                    break
                except BufferError:
                    self.producer.poll(0.5)
        self.producer.flush(120)
        assert not self.failed and all(p is not None for p in placed), self.failed[:3]
        return [p for p in placed if p is not None]


def highest(placed: Sequence[tuple[int, int]]) -> dict[int, int]:
    top: dict[int, int] = {}
    for partition, offset in placed:
        top[partition] = max(offset, top.get(partition, -1))
    return top


def good_events() -> tuple[list[Message], list[str], list[str], list[str], list[Event]]:
    """The good stream (cases interleaved, each case in order), the ids of its voided cases,
    of its other cases, of the simple cases dispatched later, and its distinct events."""
    rng = random.Random(13)
    per_case = workload(13, GOOD_CASES)
    simple = [f"S-{n}" for n in range(SIMPLE_CASES)]
    per_case += [[ev.reported(ev.at(0), cid), ev.registered(ev.at(1), cid)] for cid in simple]
    voided = sorted({e.case_id for case in per_case for e in case if e.type == "CaseVoided"})
    others = sorted({case[0].case_id for case in per_case} - set(voided) - set(simple))
    queues = [list(case) for case in per_case]
    stream: list[Message] = []
    while queues:
        queue = rng.choice(queues)
        headers = [("x-odd", rng.randbytes(4))] if rng.random() < 0.05 else None
        stream.append(good(queue.pop(0), headers))
        if not queue:
            queues.remove(queue)
    distinct = list({e.event_id: e for case in per_case for e in case}.values())
    return stream, voided, others, simple, distinct


def interleave(rng: random.Random, stream: list[Message], hostile: list[Message]) -> list[Message]:
    """Hostile messages at random places; one about a good case only after that case's last
    good event (same key, so same partition: its reason does not depend on timing)."""
    placed = [(n / len(stream), m) for n, m in enumerate(stream)]
    last = {m.key: position for position, m in placed}
    for m in hostile:
        after = last.get(m.key, 0.0) if m.case_id else 0.0
        placed.append((rng.uniform(after, 1.0), m))
    return [m for _, m in sorted(placed, key=lambda pair: pair[0])]


def hostile_messages(
    rng: random.Random, voided: list[str], others: list[str], events: list[Event]
) -> list[Message]:
    h = Hostile(rng, T0)
    made: list[Message] = []
    for _ in range(100):
        made += [h.random_short(), h.tombstone(), h.random_bytes(), h.json_event(), h.unknown_fingerprint()]
        made += [h.truncated(), h.trailing(), h.unknown_case(), h.wrong_key(), h.wrong_key()]
    made += [h.absurd() for _ in range(700)]
    made += [h.huge_case_id() for _ in range(3)]
    made += [h.bad_case_id() for _ in range(40)]
    # event ids reused with another body (one body per event id), and identical copies of
    # other events, which are redeliveries: not dead-lettered, nothing changed
    reused = rng.sample(events, CONFLICTING + COPIED)
    made += [h.conflicting(event) for event in reused[:CONFLICTING]]
    made += [Message(e.case_id.encode(), good(e).value, case_id=e.case_id) for e in reused[CONFLICTING:]]
    for case_id in others:
        made += [h.task_never_dispatched(case_id), h.in_the_future(case_id)]
    made += [h.reported_again(case_id) for case_id in others[:100]]
    for case_id in voided:
        made += [h.after_void(case_id) for _ in range(3)]
    return made


def copies_elsewhere(
    mixed: list[Message], placed: list[tuple[int, int]], simple: list[str], partitions: int
) -> tuple[list[Message], list[int | None]]:
    """Copies of the simple cases' CaseReported, and a new event of each, on a partition that is
    not the case's (what a client with another partitioner would do)."""
    home = {m.key: p for m, (p, _) in zip(mixed, placed, strict=True) if not m.reason}
    messages: list[Message] = []
    where: list[int | None] = []
    for n, cid in enumerate(simple):
        key = cid.encode()
        original = next(m for m in mixed if m.key == key and not m.reason)
        escalation = ev.escalated(T0, case_id=cid, event_id=f"00000000-0000-4000-8000-{n:012d}")
        messages += [
            Message(key, original.value, "misrouted"),
            Message(key, good(escalation).value, "misrouted"),
        ]
        where += [(home[key] + 1) % partitions] * 2
    return messages, where


def projections(worker: Worker) -> dict[str, list[tuple[Any, ...]]]:
    reader = worker.reader()
    db = worker.config.database
    columns = (
        "event_id, case_id, type, schema_version, occurred_at, recorded_at, actor_type, actor_id, source, "
        "hex(payload)"
    )
    return {
        "event_log": reader.query(f"SELECT {columns} FROM {db}.event_log FINAL ORDER BY case_id, event_id"),
        "case_lifecycle": reader.query(f"SELECT * FROM {db}.case_lifecycle FINAL ORDER BY case_id"),
        "case_tasks": reader.query(f"SELECT * FROM {db}.case_tasks FINAL ORDER BY case_id, task_id"),
    }


def dead_letters(worker: Worker) -> dict[tuple[int, int], str]:
    rows = worker.reader().query(
        f"SELECT partition, offset, reason FROM {worker.config.database}.dead_letters FINAL"
    )
    return {(int(p), int(o)): str(reason) for p, o, reason in rows}


def test_hostile_messages_are_dead_lettered_and_good_events_projected_as_without_them(
    tmp_path: Path, kafka_bootstrap: str, backend_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a deployment fed good and hostile messages, and one fed only the good ones
    def make(name: str) -> Config:
        # two workers cannot share one chDB directory (one writer): each deployment gets its own
        url = f"chdb://{tmp_path / name / 'chdb'}" if from_url(backend_url).one_writer else backend_url
        home = tmp_path / name
        home.mkdir()
        # misrouted copies and reused ids reach the fold process that holds the case
        return deployment(
            home,
            monkeypatch,
            kafka_bootstrap=kafka_bootstrap,
            clickhouse_url=url,
            watchdog_interval=0,
            fold_processes=PARALLEL_FOLD,
        )

    hostile_config, clean_config = make("hostile"), make("clean")
    rng = random.Random(7)
    stream, voided, others, simple, events = good_events()
    hostile = hostile_messages(rng, voided, others, events)
    mixed = interleave(rng, stream, hostile)
    dispatches = [good(ev.dispatched(ev.at(2), "T1", case_id=cid)) for cid in simple]
    assert len(hostile) >= 2000 and len(stream) >= 2000
    hostile_worker, clean_worker = Worker(hostile_config).start(), Worker(clean_config).start()
    try:
        # when both project their stream, then copies of the simple cases land on other
        # partitions, then the simple cases are dispatched on their own
        to_hostile, to_clean = Sender(hostile_config), Sender(clean_config)
        placed = to_hostile.send(mixed)
        clean_placed = to_clean.send(stream)
        wait_projected(hostile_config, highest(placed), 300)
        copies, where = copies_elsewhere(mixed, placed, simple, hostile_config.partitions)
        placed_copies = to_hostile.send(copies, where)
        placed += placed_copies + to_hostile.send(dispatches)
        clean_placed += to_clean.send(dispatches)
        wait_projected(hostile_config, highest(placed), 300)
        wait_projected(clean_config, highest(clean_placed), 300)

        # then every hostile message is a dead letter with its reason, and nothing else is
        expected = {at: m.reason for m, at in zip(mixed + copies, placed, strict=False) if m.reason}
        assert len(expected) == len(hostile) - COPIED + len(copies)
        assert sum(r == "conflicting_duplicate" for r in expected.values()) == CONFLICTING
        found = dead_letters(hostile_worker)
        wrong = {at: (reason, found.get(at)) for at, reason in expected.items() if found.get(at) != reason}
        assert not wrong, f"{len(wrong)} hostile messages with another fate, e.g. {list(wrong.items())[:5]}"
        assert found.keys() == expected.keys(), "no good event was dead-lettered"
        assert dead_letters(clean_worker) == {}
        raw = hostile_worker.reader().query(
            f"SELECT sum(length(raw)) FROM {hostile_config.database}.dead_letters FINAL"
        )
        kept = sum(len(m.value or b"") for m in hostile + copies if m.reason)
        assert raw == [(kept,)], "raw bytes kept"

        # and the good events' projections are those of the run without hostile messages
        with_hostile, without = projections(hostile_worker), projections(clean_worker)
        for table in without:
            assert with_hostile[table] == without[table], table
        simple_states = {row[1] for row in without["case_lifecycle"] if str(row[0]).startswith("S-")}
        assert simple_states == {"DISPATCHED"}, "misrouted copies did not make later events illegal"

        # and the worker never stalled or exited
        health = worker_health(hostile_config.worker_web_port)
        assert health is not None and health["dead"] >= len(expected)
    finally:  # teardown: stopping gracefully is test_shutdown's
        hostile_worker.kill()
        clean_worker.kill()
