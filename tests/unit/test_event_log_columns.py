"""The event log's columnar form (what the projector builds) holds exactly its rows."""

from __future__ import annotations

from datetime import UTC, datetime

from civicloop.projections.projector import RawMessage
from civicloop.projections.tables import event_log
from civicloop.schemas.codec import encode
from tests.support import case_events as ev


def test_the_columns_are_the_rows_side_by_side() -> None:
    # given events read at known places, one with an actor and one hand-built without a source
    events = [
        ev.reported(ev.at(0), "C-1"),
        ev.registered(ev.at(1), "C-1"),
        ev.escalated(ev.at(2), case_id="C-2"),
    ]
    read = [
        (RawMessage("topic", n % 2, 10 + n, e.case_id.encode(), encode(e)), e) for n, e in enumerate(events)
    ]
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    # when they are made into columns
    columns = event_log.columns(read, moment)
    # then row n of the columns is the row of message n
    rows = [event_log.row(e, m.topic, m.partition, m.offset, m.value or b"", moment) for m, e in read]
    assert list(columns) == list(rows[0])
    assert [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)] == rows


def test_no_events_make_empty_columns() -> None:
    assert all(values == [] for values in event_log.columns([], datetime.now(UTC)).values())
