"""The batch progress marker: written after every other table of a batch, it says how far the
projections are complete — also when the batch ends with messages that leave no event-log row."""

from __future__ import annotations

import itertools

import pytest

from civicloop.projections.projector import Projector, RawMessage
from civicloop.projections.read_model.progress import projected_offsets, remaining
from civicloop.projections.tables import progress, schema
from civicloop.schemas.codec import encode
from civicloop.schemas.event import Event
from tests.support import case_events as ev
from tests.support.case_events import at
from tests.support.chdb_support import Chdb

TOPIC = "civicloop.events"
_dbs = itertools.count()


@pytest.fixture
def db(chdb: Chdb) -> str:
    return chdb.new_database("progress")


def _messages(events: list[Event | bytes], partition: int = 0, first: int = 0) -> list[RawMessage]:
    return [
        RawMessage(
            TOPIC,
            partition,
            first + n,
            b"k" if isinstance(e, bytes) else e.case_id.encode(),
            e if isinstance(e, bytes) else encode(e),
        )
        for n, e in enumerate(events)
    ]


def _projector(chdb: Chdb, db: str, ignore: frozenset[str] = frozenset()) -> Projector:
    return Projector(chdb, db, lambda _: None, ignore_illegal=ignore)


def test_rows_keep_the_highest_offset_per_partition():
    marks = progress.rows([("t", 0, 5), ("t", 1, 2), ("t", 0, 9), ("t", 0, 7), ("u", 0, 1)], at(0))
    assert {(r["topic"], r["partition"], r["offset"]) for r in marks} == {
        ("t", 0, 9),
        ("t", 1, 2),
        ("u", 0, 1),
    }
    assert progress.rows([], at(0)) == []


def test_the_marker_is_the_last_write_of_a_batch(chdb, db):
    _projector(chdb, db).project(_messages([ev.reported(at(0)), b"garbage"]))

    assert chdb.inserted[-1] == schema.PROGRESS
    assert set(chdb.inserted[:-1]) == {
        "dead_letters",
        "period_spans",
        "event_log",
        "case_lifecycle",
        "case_state",
    }
    # a reader that sees a case's row sees the span of its month (docs/DESIGN.md §7)
    assert chdb.inserted.index(schema.PERIOD_SPANS) < chdb.inserted.index(schema.CASE_LIFECYCLE)
    assert projected_offsets(chdb.query, db, TOPIC) == {0: 1}


def test_a_batch_ending_in_messages_without_an_event_log_row_is_still_complete(chdb, db):
    # given a case already projected up to offset 1
    reported, registered = ev.reported(at(0)), ev.registered(at(1))
    projector = _projector(chdb, db, ignore=frozenset({"case_not_reported"}))
    projector.project(_messages([reported, registered]))
    # when the same messages are redelivered (skipped) followed by an ignored illegal event
    orphan = ev.registered(at(2), case_id="never-reported")
    projector.project(_messages([reported, registered, orphan]))

    # then the marker covers the whole batch, though the event log ends at offset 1
    assert projected_offsets(chdb.query, db, TOPIC) == {0: 2}
    assert chdb.query(f"SELECT max(offset) FROM {db}.event_log") == [(1,)]
    assert chdb.query(f"SELECT count() FROM {db}.dead_letters") == [(0,)]


def test_a_redelivered_older_batch_does_not_move_the_marker_back(chdb, db):
    projector = _projector(chdb, db)
    events = [ev.reported(at(0), case_id=f"c{n}") for n in range(4)]
    projector.project(_messages(events))
    projector.project(_messages(events[:2]))

    assert projected_offsets(chdb.query, db, TOPIC) == {0: 3}
    assert remaining({0: 3}, {0: 3}) == 0 and remaining({0: 5, 1: 0}, {0: 3}) == 3
