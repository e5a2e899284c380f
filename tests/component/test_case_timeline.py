"""A case's timeline is in the order its events happened and, within one second, in the order
the log holds them — the order the fold applied them. Times are stored to the second
(DateTime('UTC')); a registration and its dispatch by a rule in the same second must not show
the dispatch first (event ids are random, so they order nothing)."""

from __future__ import annotations

import pytest

from civicloop.projections.projector import Projector
from civicloop.projections.read_model import cases
from civicloop.projections.store.base import Store
from tests.component.test_projector_trust import batch
from tests.support import case_events as ev
from tests.support.case_events import at

pytestmark = pytest.mark.integration


def test_events_of_one_second_are_shown_in_the_order_of_the_log(store: Store, database: str) -> None:
    store.lay_out(database)
    same_second = at(1)
    events = [
        ev.reported(at(0), "M", event_id="ffffffff-0000-4000-8000-000000000001"),
        ev.registered(same_second, "M", event_id="eeeeeeee-0000-4000-8000-000000000002"),
        ev.dispatched(same_second, "T1", case_id="M", event_id="dddddddd-0000-4000-8000-000000000003"),
        ev.task_event(
            "TaskAccepted", same_second, "T1", case_id="M", event_id="cccccccc-0000-4000-8000-000000000004"
        ),
        ev.closed(at(30), case_id="M", event_id="00000000-0000-4000-8000-000000000005"),
    ]
    assert all(e.fields["recorded_at"] == events[1].fields["recorded_at"] for e in events[1:4])
    result = Projector(store, database, lambda letters: None).project_until_written(batch(*events))
    assert result.dead == []

    found = cases.case(store.query, database, "M")

    assert found is not None
    timeline = [(entry["type"], entry["event_id"]) for entry in found["timeline"]]
    assert timeline == [(e.type, e.event_id) for e in events]
