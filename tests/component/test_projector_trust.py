"""The projector against hostile content, on chDB and on the server: values the store cannot hold
are dead-lettered (by the contract check, or by the store itself when that check is off) and
split out of their batch; events under another key or from another partition never touch their
case; state look-ups of a 20,000-case batch of long ids work."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from civicloop.projections.projector import BatchResult, Projector, RawMessage
from civicloop.projections.read_model import progress
from civicloop.projections.store.base import Store, StoreRejected
from civicloop.schemas.codec import encode
from civicloop.schemas.event import Event
from tests.support import case_events as ev
from tests.support.case_events import at

pytestmark = pytest.mark.integration
TOPIC = "civicloop.case-events"
NOW_MS = int(time.time() * 1000)
YEAR_2999 = datetime(2999, 1, 1, tzinfo=UTC)


def msg(event: Event, offset: int, partition: int = 0, key: bytes | None = None) -> RawMessage:
    return RawMessage(
        TOPIC, partition, offset, event.case_id.encode() if key is None else key, encode(event), NOW_MS
    )


def batch(*events: Event, partition: int = 0, first: int = 0) -> list[RawMessage]:
    return [msg(e, first + n, partition) for n, e in enumerate(events)]


def projector(store: Store, database: str, validating: bool = True) -> tuple[Projector, list[object]]:
    store.lay_out(database)
    published: list[object] = []
    if validating:
        return Projector(store, database, published.extend), published
    # As if the bytes met a worker without the contract check: the store's own limits decide.
    return Projector(store, database, published.extend, check_event=lambda event, revision: None), published


def absurd_stream() -> tuple[list[Event], set[int]]:
    """Good events of cases A and B with three absurd ones at known offsets."""
    events = [
        ev.reported(at(0), "A"),
        ev.registered(at(1), "A"),
        ev.event("CaseEscalated", at(2), "A", level=300, reason="supervisor", task_id=None, deadline=None),
        ev.reported(at(2), "B"),
        ev.registered(at(3), "B", recorded_at=YEAR_2999),
        ev.reported(at(3), "C", occurred_at=datetime(1900, 1, 1, tzinfo=UTC)),
        ev.dispatched(at(4), "T1", case_id="A"),
        ev.accepted(at(5), "T1", case_id="A"),
    ]
    return events, {2, 4, 5}


def dead_by_offset(result: BatchResult) -> dict[int, str]:
    return {d.offset: d.reason for d in result.dead}


@pytest.mark.parametrize("validating", [True, False], ids=["contract-check", "store-limits"])
def test_absurd_values_are_dead_lettered_and_the_rest_written(
    store: Store, database: str, validating: bool
) -> None:
    events, bad = absurd_stream()
    project, published = projector(store, database, validating)

    result = project.project_until_written(batch(*events))

    reasons = dead_by_offset(result)
    assert set(reasons) == bad
    if validating:
        assert reasons == {2: "invalid:level", 4: "invalid:recorded_at", 5: "invalid:occurred_at"}
    else:
        assert set(reasons.values()) == {"store_rejected:out_of_range"}
    assert len(published) == 3, "each dead letter published once"
    db = database
    logged = store.query(f"SELECT event_id FROM {db}.event_log FINAL ORDER BY offset")
    assert logged == [(e.event_id,) for n, e in enumerate(events) if n not in bad], "no row of a bad one"
    cases = store.query(
        f"SELECT case_id, state, escalations, escalation_level, registered_at "
        f"FROM {db}.case_lifecycle FINAL ORDER BY case_id"
    )
    assert cases == [("A", "IN_PROGRESS", 0, 0, at(1)), ("B", "REPORTED", 0, 0, None)], "nothing clamped"
    stored = store.query(f"SELECT partition, offset, reason FROM {db}.dead_letters FINAL ORDER BY offset")
    assert stored == [(0, n, reasons[n]) for n in sorted(bad)]
    assert progress.projected_offsets(store.query, db, TOPIC) == {0: len(events) - 1}


def test_a_store_refuses_values_outside_its_columns_instead_of_clamping(store: Store, database: str) -> None:
    store.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    store.command(f"CREATE TABLE {database}.t (n UInt8, at DateTime('UTC')) ENGINE = MergeTree ORDER BY n")
    for row in (
        {"n": 300, "at": at(0)},
        {"n": 1, "at": YEAR_2999},
        {"n": 1, "at": datetime(1900, 1, 1, tzinfo=UTC)},
    ):
        with pytest.raises(StoreRejected):
            store.insert(f"{database}.t", [{"n": 2, "at": at(0)}, row])
    assert store.query(f"SELECT count() FROM {database}.t") == [(0,)]


def test_events_under_another_key_or_from_another_partition_never_touch_their_case(
    store: Store, database: str
) -> None:
    project, _ = projector(store, database)
    reported = ev.reported(at(0), "M")
    first = project.project_until_written(batch(reported, ev.registered(at(1), "M")))
    assert first.dead == []

    stray = ev.reported(at(0), "N")
    copies = [
        msg(reported, 0, partition=1),  # the same CaseReported copied to another partition
        msg(ev.voided(at(2), case_id="M"), 1, partition=1),  # a new event, wrong partition
        msg(stray, 2, partition=1, key=b"someone-else"),  # right bytes, wrong key
        msg(ev.reported(at(0), "O"), 3, partition=1, key=b""),
    ]
    second = project.project_until_written(copies)
    assert dead_by_offset(second) == {0: "misrouted", 1: "misrouted", 2: "misrouted", 3: "misrouted"}

    project.states.forget()  # the next look-up reads the saved state
    third = project.project_until_written(
        [msg(ev.dispatched(at(3), "T1", case_id="M"), 2), msg(ev.closed(at(4), case_id="M"), 5, partition=2)]
    )
    assert dead_by_offset(third) == {5: "misrouted"}
    db = database
    assert store.query(f"SELECT case_id, state FROM {db}.case_lifecycle FINAL ORDER BY case_id") == [
        ("M", "DISPATCHED")
    ], "the copy did not reset M, the void did not void it, N and O were never created"
    assert store.query(f"SELECT DISTINCT partition FROM {db}.case_state") == [(0,)]


def test_a_first_message_that_is_illegal_does_not_bind_its_case_to_a_partition(
    store: Store, database: str
) -> None:
    project, _ = projector(store, database)
    orphan = project.project_until_written([msg(ev.registered(at(1), "P"), 0, partition=1)])
    assert dead_by_offset(orphan) == {0: "illegal:case_not_reported"}
    project.states.forget()
    good = project.project_until_written(batch(ev.reported(at(0), "P"), ev.registered(at(1), "P")))
    assert good.dead == []
    assert store.query(f"SELECT state FROM {database}.case_lifecycle FINAL") == [("REGISTERED",)]


def test_a_batch_of_20000_cases_with_64_character_ids_is_looked_up_and_projected(
    store: Store, database: str
) -> None:
    project, _ = projector(store, database)
    ids = [f"case-{n:059d}" for n in range(20_000)]
    assert {len(cid) for cid in ids} == {64}
    project.project_until_written([msg(ev.reported(at(0), cid), n) for n, cid in enumerate(ids)])
    project.states.forget()  # every state must come back from the store, 20,000 ids at once

    result = project.project_until_written(
        [msg(ev.registered(at(1), cid), 20_000 + n) for n, cid in enumerate(ids)]
    )

    assert result.dead == [] and result.projected == 20_000
    rows = store.query(f"SELECT state, count() FROM {database}.case_lifecycle FINAL GROUP BY state")
    assert rows == [("REGISTERED", 20_000)]
