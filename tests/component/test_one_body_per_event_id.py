"""One body per event id, over the projector on chDB and on the server (docs/DESIGN.md §6).

A city's events, then for 500 of them a message with the same event id and key and another
body (a changed field, or another type's fingerprint), and identical copies of 200 more, each
placed later in its case's partition. In one process across a restart (cold caches: the first
bodies come from the stored states), and in two fold processes with the replay's overlapped
batches: every forged message is a dead letter ``conflicting_duplicate`` naming both bodies'
digests, the identical copies are skipped, and every table holds what a run without them holds.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import timedelta

import pytest

from civicloop.projections.fold.casestate import body_digest
from civicloop.projections.parallel import ParallelProjector
from civicloop.projections.projector import BatchResult, Projector, RawMessage
from civicloop.projections.store.base import Store
from civicloop.projections.tables import schema
from civicloop.schemas.codec import decode, encode
from civicloop.schemas.event import Event
from civicloop.schemas.events import new_event
from civicloop.tools.bench.checksums import checksum
from tests.component.test_parallel_projector import NOW_MS, TOPIC, batches, city

pytestmark = pytest.mark.integration
FORGED, COPIED = 500, 200
#: the projections compared with the run without the extra messages (the dead letters and the
#: progress markers differ by design; where rows were read from is left out: offsets move)
COMPARED = (schema.EVENT_LOG, schema.CASE_LIFECYCLE, schema.CASE_TASKS, schema.CASE_STATE)


def forge(event: Event, n: int) -> Event:
    """``event`` with one field changed, or (every fifth) a CaseEscalated under its id."""
    f = event.fields
    envelope = {k: f[k] for k in ("event_id", "case_id", "occurred_at", "recorded_at", "actor", "source")}
    kind = n % 5
    if kind == 0:
        return new_event(
            "CaseEscalated", **envelope, level=3, reason="supervisor", max_future=timedelta(days=9999)
        )
    changes: dict[str, object] = [
        {},
        {"source": "forged/1"},
        {"occurred_at": f["occurred_at"] + timedelta(seconds=1)},
        {"recorded_at": f["recorded_at"] + timedelta(hours=1)},
        {"actor": {"type": "system", "id": "forger"}},
    ][kind]
    return Event(event.type, {**f, **changes}, event.version)


def with_extras(
    read: list[RawMessage], seed: int = 21
) -> tuple[list[RawMessage], dict[tuple[int, int], str]]:
    """``read`` with forged and copied messages, each after its original in the partition,
    renumbered; and {(partition, offset): digests the dead letter must name} of the forged."""
    rng = random.Random(seed)
    chosen = rng.sample(range(len(read)), FORGED + COPIED)
    # position in read → (the original, the extra message's value, the digests expected)
    extra: dict[int, list[tuple[RawMessage, bytes, str]]] = {}
    for n, at in enumerate(chosen):
        original = read[at]
        later = rng.randrange(at, len(read))
        if n < FORGED:
            forged = encode(forge(decode(original.value or b""), n))
            digests = f"{body_digest(original.value or b''):016x} {body_digest(forged):016x}"
            extra.setdefault(later, []).append((original, forged, digests))
        else:
            extra.setdefault(later, []).append((original, original.value or b"", ""))
    offsets: dict[int, int] = {}
    out: list[RawMessage] = []
    expected: dict[tuple[int, int], str] = {}

    def place(msg: RawMessage, value: bytes) -> RawMessage:
        offset = offsets.get(msg.partition, 0)
        offsets[msg.partition] = offset + 1
        return RawMessage(TOPIC, msg.partition, offset, msg.key, value, NOW_MS)

    for position, msg in enumerate(read):
        out.append(place(msg, msg.value or b""))
        for original, value, digests in extra.get(position, []):
            out.append(place(original, value))
            if digests:
                expected[(original.partition, out[-1].offset)] = digests
    return out, expected


def serial(store: Store, database: str) -> Projector:
    store.lay_out(database)
    return Projector(store, database, lambda letters: None)


def checksums(store: Store, database: str) -> dict[str, tuple[int, int]]:
    return {table: checksum(store, database, table) for table in COMPARED}


def assert_refused_as_forged(
    store: Store, database: str, result: BatchResult, expected: dict[tuple[int, int], str]
) -> None:
    dead = {(d.partition, d.offset): d for d in result.dead}
    assert dead.keys() == expected.keys(), "every forged message, and nothing else, is dead-lettered"
    for at, letter in dead.items():
        first, this = expected[at].split()
        assert letter.reason == "conflicting_duplicate"
        assert f"first body {first}" in letter.detail and f"this body {this}" in letter.detail
    assert result.skipped == COPIED, "identical copies are redeliveries: skipped, not written"
    stored = store.query(f"SELECT reason, count() FROM {database}.dead_letters FINAL GROUP BY reason")
    assert stored == [("conflicting_duplicate", FORGED)]


def run_all(projection: Projector | ParallelProjector, sent: Sequence[Sequence[RawMessage]]) -> BatchResult:
    total = BatchResult()

    def done(batch: Sequence[RawMessage], result: BatchResult) -> None:
        total.add(result)

    try:
        projection.project_all(sent, done)
    finally:
        projection.close()
    return total


def test_forged_copies_are_dead_lettered_and_change_nothing_in_one_process_across_a_restart(
    store: Store, database: str
) -> None:
    read = city(3_000)
    run_all(serial(store, f"{database}_ref"), list(batches(read, 1_000)))
    mixed, expected = with_extras(read)
    # when the mixed stream is projected by a worker, restarted (cold cache) half-way
    half = len(mixed) // 2
    result = run_all(serial(store, f"{database}_mix"), list(batches(mixed[:half], 1_000)))
    result.add(run_all(serial(store, f"{database}_mix"), list(batches(mixed[half:], 1_000))))

    assert_refused_as_forged(store, f"{database}_mix", result, expected)
    assert result.projected == len(read)
    assert checksums(store, f"{database}_mix") == checksums(store, f"{database}_ref")


def test_forged_copies_are_dead_lettered_and_change_nothing_in_fold_processes_and_the_replay(
    store: Store, database: str
) -> None:
    read = city(3_000)
    run_all(serial(store, f"{database}_ref"), list(batches(read, 1_000)))
    mixed, expected = with_extras(read)
    store.lay_out(f"{database}_par")
    # when the replay's projection (two fold processes, the next batch folded beside the
    # write) projects the mixed stream
    parallel = ParallelProjector(store, f"{database}_par", lambda letters: None, 2)
    result = run_all(parallel, list(batches(mixed, 1_000)))

    assert_refused_as_forged(store, f"{database}_par", result, expected)
    assert checksums(store, f"{database}_par") == checksums(store, f"{database}_ref")
