"""The console offers exactly the actions a key may take on a case now (issue 24): tried
with the fold's own guards, per role and per task. The expected sets are written out from the
lifecycle's rules (docs/DESIGN.md §3), not read from the code under test. And the language a
page is shown in: the one picked, else the browser's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from civicloop.api import casework, catalogue, departments
from civicloop.api.console.messages import CATALOGUE, language
from civicloop.api.keys import ApiKey
from civicloop.projections.fold.lifecycle import fold_all
from civicloop.schemas.event import Event
from civicloop.schemas.events import new_event

NOW = datetime.now(UTC).replace(microsecond=0)
SERVICES = catalogue.load(None)
API: Any = SimpleNamespace(
    catalogue=SERVICES, departments=departments.load(None, SERVICES), source=lambda key: "tests/console"
)
ACTOR = {"type": "system", "id": "tests"}


def _event(kind: str, **fields: Any) -> Event:
    return new_event(
        kind, case_id="c-1", actor=ACTOR, source="tests", occurred_at=NOW - timedelta(hours=1), **fields
    )


REPORTED = _event(
    "CaseReported",
    channel="app",
    category="traffic.illegal_parking",
    description="a van on the kerb",
    location={"lat": 39.29, "lon": -76.61, "address": "4 Dock Street"},
    priority="normal",
    reporter_ref=None,
)
REGISTERED = _event(
    "CaseRegistered", category="traffic.illegal_parking", priority="normal", deadline_policy=None
)


def _dispatched(task: str, department: str, role: str) -> Event:
    return _event(
        "TaskDispatched",
        task_id=task,
        department=department,
        role=role,
        accept_by=NOW + timedelta(hours=2),
        dispose_by=NOW + timedelta(days=2),
    )


DISPATCHED = [
    REPORTED,
    REGISTERED,
    _dispatched("L1", "transport", "lead"),
    _dispatched("A1", "parks", "assist"),
]
ACCEPTED = [*DISPATCHED, _event("TaskAccepted", task_id="L1")]
DISPOSED = [*ACCEPTED, _event("TaskDisposed", task_id="L1", outcome="fixed", note=None)]
CLOSED = [*DISPOSED, _event("CaseClosed", reason="resolved")]


def _key(role: str) -> ApiKey:
    kind, _, department = role.partition(":")
    return ApiKey("k-" + kind, kind, department or None, role, "2026-01-01")


def _offered(role: str, history: list[Event]) -> set[str]:
    found = casework.allowed_actions(API, _key(role), fold_all(history), NOW)
    return {
        a["action"] + (f":{a['task_id']}" if "task_id" in a else f":{a['role']}" if "role" in a else "")
        for a in found
    }


CASES = [
    ("dispatcher", [REPORTED], {"register", "void"}),
    ("dispatcher", [REPORTED, REGISTERED], {"void", "dispatch:lead", "close"}),
    ("dispatcher", DISPATCHED, {"dispatch:assist", "close"}),
    ("department:transport", DISPATCHED, {"accept:L1", "contact:L1", "extend:L1", "return:L1"}),
    ("department:parks", DISPATCHED, {"accept:A1", "contact:A1", "extend:A1", "return:A1"}),
    ("department:water", DISPATCHED, set()),
    ("department:transport", ACCEPTED, {"contact:L1", "extend:L1", "return:L1", "dispose:L1"}),
    ("department:transport", DISPOSED, {"contact:L1"}),
    (
        "supervisor",
        DISPOSED,
        {
            "check",
            "close",
            "dispatch:lead",
            "accept:A1",
            "contact:A1",
            "contact:L1",
            "extend:A1",
            "return:A1",
        },
    ),
    ("supervisor", CLOSED, {"feedback", "reopen"}),
    ("dispatcher", CLOSED, {"reopen"}),
    ("analyst", DISPATCHED, set()),
    ("analyst", [REPORTED], set()),
]


@pytest.mark.parametrize(("role", "history", "expected"), CASES)
def test_the_console_offers_exactly_the_actions_the_case_allows_the_key_now(
    role: str, history: list[Event], expected: set[str]
) -> None:
    assert _offered(role, history) == expected


def test_the_language_is_the_one_picked_else_the_browsers() -> None:
    assert language(None, None, "zh-CN,zh;q=0.9,en;q=0.8") == "zh-CN"
    assert language(None, None, "en-GB,en;q=0.9") == "en"
    assert language(None, None, "fr-FR") == "en"
    assert language("en", "zh-CN", "zh-CN") == "en"  # picked now beats kept and browser
    assert language(None, "zh-CN", "en") == "zh-CN"  # kept from an earlier pick
    assert language("klingon", None, "zh") == "zh-CN"  # an unknown pick is ignored
    assert all(len(pair) == 2 and all(pair) for pair in CATALOGUE.values())  # no word in one language only
