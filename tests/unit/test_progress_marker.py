"""The batch progress marker: written after every other table of a batch, it says how far the
projections are complete — also when the batch ends with messages that leave no event-log row."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from civicloop.projections import progress, tables
from civicloop.projections.chdb_store import ChdbStore
from civicloop.schemas.codec import encode
from civicloop.schemas.event import Event
from civicloop.streams.projector import Projector, RawMessage
from tests.unit import case_events as ev
from tests.unit.case_events import at

TOPIC = "civicloop.events"
_dbs = itertools.count()


class RecordingStore(ChdbStore):
    """The real chDB store, remembering the order of the tables it inserted into."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.inserted: list[str] = []

    def insert(self, table: str, rows: Sequence[Mapping[str, Any]]) -> int:
        if rows:
            self.inserted.append(table.split(".")[-1])
        return super().insert(table, rows)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecordingStore]:
    engine = RecordingStore(Path(tmp_path_factory.mktemp("chdb")))
    yield engine
    engine.close()


@pytest.fixture
def db(store: RecordingStore) -> str:
    name = f"progress_{next(_dbs)}"
    tables.ensure(store, name)
    store.inserted.clear()
    return name


def _messages(events: list[Event | bytes], partition: int = 0, first: int = 0) -> list[RawMessage]:
    return [RawMessage(TOPIC, partition, first + n, b"k", e if isinstance(e, bytes) else encode(e))
            for n, e in enumerate(events)]


def _projector(store: RecordingStore, db: str, ignore: frozenset[str] = frozenset()) -> Projector:
    return Projector(store, db, lambda _: None, ignore_illegal=ignore)


def test_rows_keep_the_highest_offset_per_partition():
    marks = progress.rows([("t", 0, 5), ("t", 1, 2), ("t", 0, 9), ("t", 0, 7), ("u", 0, 1)])
    assert {(r["topic"], r["partition"], r["offset"]) for r in marks} == {
        ("t", 0, 9), ("t", 1, 2), ("u", 0, 1)}
    assert progress.rows([]) == []


def test_the_marker_is_the_last_write_of_a_batch(store, db):
    _projector(store, db).project(_messages([ev.reported(at(0)), b"garbage"]))

    assert store.inserted[-1] == progress.TABLE
    assert set(store.inserted[:-1]) == {"dead_letters", "event_log", "case_lifecycle", "case_state"}
    assert progress.projected_offsets(store.query, db, TOPIC) == {0: 1}


def test_a_batch_ending_in_messages_without_an_event_log_row_is_still_complete(store, db):
    # given a case already projected up to offset 1
    reported, registered = ev.reported(at(0)), ev.registered(at(1))
    projector = _projector(store, db, ignore=frozenset({"case_not_reported"}))
    projector.project(_messages([reported, registered]))
    # when the same messages are redelivered (skipped) followed by an ignored illegal event
    orphan = ev.registered(at(2), case_id="never-reported")
    projector.project(_messages([reported, registered, orphan]))

    # then the marker covers the whole batch, though the event log ends at offset 1
    assert progress.projected_offsets(store.query, db, TOPIC) == {0: 2}
    assert store.query(f"SELECT max(offset) FROM {db}.event_log") == [(1,)]
    assert store.query(f"SELECT count() FROM {db}.dead_letters") == [(0,)]


def test_a_redelivered_older_batch_does_not_move_the_marker_back(store, db):
    projector = _projector(store, db)
    events = [ev.reported(at(0), case_id=f"c{n}") for n in range(4)]
    projector.project(_messages(events))
    projector.project(_messages(events[:2]))

    assert progress.projected_offsets(store.query, db, TOPIC) == {0: 3}
    assert progress.remaining({0: 3}, {0: 3}) == 0 and progress.remaining({0: 5, 1: 0}, {0: 3}) == 3
