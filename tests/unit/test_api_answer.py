"""How a handling call's answer is shown over HTTP (handling.answer), from the use case's
result alone: 202 with the status URL in Location until the outcome is known, then 200 with
the case after it or 409 with the worker's reason, each saying the wait was applied."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from civicloop.api.events import DEAD_LETTERED, PENDING, PROJECTED, Outcome
from civicloop.api.handling import answer
from civicloop.api.usecases import Taken
from civicloop.schemas.events import new_event

ID = "3f2b8a4e-1c5d-4e6f-9a7b-0c1d2e3f4a5b"
EVENT = new_event(
    "TaskAccepted",
    case_id="c:1",
    event_id=ID,
    actor={"type": "department", "id": "roads"},
    source="tests",
    occurred_at=datetime(2026, 5, 1, 9, 30, tzinfo=UTC),
    task_id="t-1",
)
ACCEPTED = {
    "event_id": ID,
    "case_id": "c:1",
    "type": "TaskAccepted",
    "duplicate": False,
    "status_url": f"/api/v1/events/{ID}?case_id=c%3A1",
    "task_id": "t-1",
}


def _shown(taken: Taken) -> tuple[int, dict[str, object], dict[str, str]]:
    response = answer(taken)
    headers = {k: v for k, v in response.headers.items() if k in ("location", "preference-applied")}
    return response.status_code, json.loads(bytes(response.body)), headers


def test_without_a_known_outcome_the_answer_is_202_with_the_status_url() -> None:
    location = {"location": ACCEPTED["status_url"]}
    assert _shown(Taken(EVENT, duplicate=False)) == (202, ACCEPTED, location)
    pending = Outcome(PENDING, ID, "c:1", "TaskAccepted", 0, 7)
    assert _shown(Taken(EVENT, duplicate=True, outcome=pending)) == (
        202,
        {**ACCEPTED, "duplicate": True},
        location,
    )


def test_a_known_outcome_is_200_with_the_case_or_409_with_the_reason() -> None:
    applied = {"location": ACCEPTED["status_url"], "preference-applied": "wait"}
    case = {"case_id": "c:1", "state": "IN_PROGRESS"}
    projected = Outcome(PROJECTED, ID, "c:1", "TaskAccepted", 0, 7, case=case)
    assert _shown(Taken(EVENT, False, projected)) == (
        200,
        {**ACCEPTED, "status": "projected", "case": case},
        applied,
    )
    refused = Outcome(DEAD_LETTERED, ID, "c:1", "TaskAccepted", 0, 7, "task_closed", "task t-1 is closed")
    status, body, headers = _shown(Taken(EVENT, False, refused))
    assert (status, headers) == (409, applied)
    assert body == {
        **ACCEPTED,
        "status": "dead_lettered",
        "reason": "task_closed",
        "errors": [{"code": "task_closed", "field": None, "description": "task t-1 is closed"}],
    }
