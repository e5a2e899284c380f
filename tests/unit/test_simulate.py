"""The city workload simulator: deterministic, ordered, lifecycle-legal, realistic enough."""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from civicloop.schemas.codec import encode
from civicloop.schemas.event import Event
from civicloop.schemas.events import EVENT_TYPES, event_from_json
from civicloop.streams.watchdog import Overdue, escalation
from civicloop.tools.simulate import simulate, write_jsonl

START = datetime(2024, 5, 1, tzinfo=UTC)  # a Wednesday
DAYS = 21
END = START + timedelta(days=DAYS)


@pytest.fixture(scope="module")
def events() -> list[Event]:
    return list(simulate(DAYS, 300, seed=42, start=START))


@pytest.fixture(scope="module")
def by_case(events: list[Event]) -> dict[str, list[Event]]:
    cases: dict[str, list[Event]] = defaultdict(list)
    for ev in events:
        cases[ev.case_id].append(ev)
    return cases


# --- an independent checker of the lifecycle (docs/DESIGN.md §3), stricter than the fold ------------

# (event key, state before) -> state after; "=" keeps the state
TRANSITIONS = {
    ("CaseRegistered", "REPORTED"): "REGISTERED",
    ("CaseVoided", "REPORTED"): "VOIDED",
    ("CaseVoided", "REGISTERED"): "VOIDED",
    ("TaskDispatched:lead", "REGISTERED"): "DISPATCHED",
    ("TaskDispatched:lead", "RETURNED"): "DISPATCHED",
    ("TaskDispatched:lead", "REOPENED"): "DISPATCHED",
    ("TaskDispatched:assist", "DISPATCHED"): "=",
    ("TaskAccepted:lead", "DISPATCHED"): "IN_PROGRESS",
    ("TaskAccepted:assist", "IN_PROGRESS"): "=",
    ("TaskReturned:lead", "DISPATCHED"): "RETURNED",
    ("CitizenContacted", "IN_PROGRESS"): "=",
    ("DeadlineExtended", "IN_PROGRESS"): "=",
    ("CaseEscalated", "DISPATCHED"): "=",
    ("CaseEscalated", "IN_PROGRESS"): "=",
    ("TaskDisposed:assist", "IN_PROGRESS"): "=",
    ("TaskDisposed:lead", "IN_PROGRESS"): "DISPOSED",
    ("CaseChecked:passed", "DISPOSED"): "CHECKED",
    ("CaseChecked:failed", "DISPOSED"): "IN_PROGRESS",
    ("CaseClosed", "CHECKED"): "CLOSED",
    ("CaseClosed", "REGISTERED"): "CLOSED",  # answered by the hotline, or withdrawn
    ("FeedbackReceived", "CLOSED"): "=",
    ("CaseReopened", "CLOSED"): "REOPENED",
}
NEXT_TASK_STATUS = {
    "TaskAccepted": ("dispatched", "accepted"),
    "TaskReturned": ("dispatched", "returned"),
    "TaskDisposed": ("accepted", "disposed"),
    "CitizenContacted": ("accepted", "accepted"),
    "DeadlineExtended": ("accepted", "accepted"),
}


class CaseCheck:
    """Replays one case; raises AssertionError naming the first illegal event."""

    def __init__(self) -> None:
        self.state = "NEW"
        self.lead: str | None = None
        self.tasks: dict[str, dict[str, Any]] = {}
        self.feedback: bool | None = None  # None: no feedback since the last closure

    def apply(self, ev: Event) -> None:
        if ev.type == "CaseReported":
            assert self.state == "NEW", f"{ev.case_id} reported twice"
            self.state = "REPORTED"
            return
        key = self._key(ev)
        after = TRANSITIONS.get((key, self.state))
        assert after is not None, f"{ev.case_id}: {key} in {self.state}"
        getattr(self, "_" + ev.type, lambda ev: None)(ev)
        self._task_step(ev)
        self.state = self.state if after == "=" else after

    def _key(self, ev: Event) -> str:
        if ev.type == "TaskDispatched":
            return f"TaskDispatched:{ev['role']}"
        if ev.type in ("TaskAccepted", "TaskReturned", "TaskDisposed"):
            return f"{ev.type}:{'lead' if ev['task_id'] == self.lead else 'assist'}"
        if ev.type == "CaseChecked":
            return "CaseChecked:" + ("passed" if ev["passed"] else "failed")
        return ev.type

    def _task_step(self, ev: Event) -> None:
        if ev.type not in NEXT_TASK_STATUS:
            return
        task = self.tasks[ev["task_id"]]
        need, then = NEXT_TASK_STATUS[ev.type]
        assert task["status"] == need, f"{ev.case_id}: {ev.type} on a {task['status']} task"
        task["status"] = then

    def _TaskDispatched(self, ev: Event) -> None:
        assert ev["task_id"] not in self.tasks
        assert ev["accept_by"] <= ev["dispose_by"]
        self.tasks[ev["task_id"]] = {
            "status": "dispatched",
            "dispose_by": ev["dispose_by"],
            "accept_by": ev["accept_by"],
        }
        if ev["role"] == "lead":
            self.lead = ev["task_id"]

    def _TaskDisposed(self, ev: Event) -> None:
        if ev["task_id"] == self.lead:  # assists finish before the lead answers for the case
            assert all(
                t["status"] == "disposed"
                for k, t in self.tasks.items()
                if k != self.lead and t["status"] != "returned"
            ), ev.case_id

    def _CaseChecked(self, ev: Event) -> None:
        if not ev["passed"]:
            self.tasks[self.lead]["status"] = "accepted"  # rework: dispose again  # type: ignore[index]

    def _DeadlineExtended(self, ev: Event) -> None:
        task = self.tasks[ev["task_id"]]
        assert ev["new_dispose_by"] > task["dispose_by"] > ev.occurred_at, "extend before due"
        task["dispose_by"] = ev["new_dispose_by"]

    def _CaseEscalated(self, ev: Event) -> None:
        if ev["reason"] not in ("accept_overdue", "dispose_overdue"):
            assert ev["deadline"] is None
            return
        # Automatic escalation: only once the deadline really passed without the next step.
        task = self.tasks[ev["task_id"]]
        field = "accept_by" if ev["reason"] == "accept_overdue" else "dispose_by"
        assert ev["deadline"] == task[field] < ev.occurred_at, ev.case_id
        # (as the watchdog: a dispose-by passed before acceptance is escalated while dispatched)
        assert task["status"] in (("dispatched",) if field == "accept_by" else ("dispatched", "accepted"))

    def _CaseClosed(self, ev: Event) -> None:
        self.feedback = None

    def _FeedbackReceived(self, ev: Event) -> None:
        assert self.feedback is None, f"{ev.case_id}: second feedback for one closure"
        self.feedback = ev["resolved"]

    def _CaseReopened(self, ev: Event) -> None:
        assert self.feedback is False, f"{ev.case_id}: reopened without unresolved feedback"


def check_case(events: list[Event]) -> CaseCheck:
    check = CaseCheck()
    for ev in events:
        check.apply(ev)
    return check


# --- tests -----------------------------------------------------------------------------------


def test_same_seed_gives_identical_events_and_bytes(tmp_path: Path) -> None:
    first = list(simulate(3, 200, seed=7, start=START))
    again = list(simulate(3, 200, seed=7, start=START))
    other = list(simulate(3, 200, seed=8, start=START))

    assert first == again
    write_jsonl(first, tmp_path / "a.jsonl")
    write_jsonl(again, tmp_path / "b.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert {e.event_id for e in first}.isdisjoint(e.event_id for e in other)


def test_every_event_type_appears_in_a_three_week_run(events: list[Event]) -> None:
    assert set(Counter(e.type for e in events)) == set(EVENT_TYPES)


def test_events_are_globally_sorted_within_the_period(events: list[Event]) -> None:
    times = [e.occurred_at for e in events]
    assert times == sorted(times)
    assert START <= times[0] and times[-1] <= END
    assert len({e.event_id for e in events}) == len(events)


def test_each_case_timeline_is_monotone_and_starts_with_its_report(
    by_case: dict[str, list[Event]],
) -> None:
    for case_events in by_case.values():
        times = [e.occurred_at for e in case_events]
        assert times == sorted(times)
        assert case_events[0].type == "CaseReported"


def test_every_case_follows_the_lifecycle(by_case: dict[str, list[Event]]) -> None:
    final = Counter(check_case(evs).state for evs in by_case.values())

    # Given three weeks, most cases close; some are voided; some are still being worked on.
    assert final["CLOSED"] > 0.7 * len(by_case)
    assert final["VOIDED"] > 0
    assert sum(final[s] for s in ("DISPATCHED", "IN_PROGRESS", "DISPOSED")) > 0


def test_the_projection_fold_accepts_every_event(by_case: dict[str, list[Event]]) -> None:
    lifecycle = pytest.importorskip("civicloop.projections.fold.lifecycle")
    for case_events in by_case.values():
        lifecycle.fold_all(case_events)  # raises IllegalTransition on an illegal sequence


def test_deadlines_are_mostly_met_and_sometimes_missed(events: list[Event]) -> None:
    accept_by: dict[str, datetime] = {}
    dispose_by: dict[str, datetime] = {}
    accepted, disposed = [], []
    for ev in events:
        if ev.type == "TaskDispatched":
            accept_by[ev["task_id"]], dispose_by[ev["task_id"]] = ev["accept_by"], ev["dispose_by"]
        elif ev.type == "DeadlineExtended":
            dispose_by[ev["task_id"]] = ev["new_dispose_by"]
        elif ev.type == "TaskAccepted":
            accepted.append(ev.occurred_at > accept_by[ev["task_id"]])
        elif ev.type == "TaskDisposed" and ev["note"] is None:
            disposed.append(ev.occurred_at > dispose_by[ev["task_id"]])

    assert 0.03 < sum(accepted) / len(accepted) < 0.4
    assert 0.02 < sum(disposed) / len(disposed) < 0.3


def test_some_cases_are_open_and_overdue_at_the_end(by_case: dict[str, list[Event]]) -> None:
    overdue = 0
    for evs in by_case.values():
        check = check_case(evs)
        lead = check.tasks.get(check.lead or "")
        if check.state == "IN_PROGRESS" and lead and lead["dispose_by"] < END:
            overdue += 1
    assert overdue > 0


def test_duplicates_name_a_case_reported_earlier(events: list[Event]) -> None:
    reported: dict[str, datetime] = {}
    duplicates = 0
    for ev in events:
        if ev.type == "CaseReported":
            reported[ev.case_id] = ev.occurred_at
        elif ev.type == "CaseVoided" and ev["reason"] == "duplicate":
            duplicates += 1
            assert ev["duplicate_of"] in reported and ev["duplicate_of"] != ev.case_id
        elif ev.type == "CaseVoided":
            assert ev["duplicate_of"] is None
    assert duplicates > 0


def test_reports_carry_no_personal_data_and_valid_locations(events: list[Event]) -> None:
    for ev in (e for e in events if e.type == "CaseReported"):
        ref = ev["reporter_ref"]
        assert ref is None or re.fullmatch(r"r-[0-9a-f]{16}", ref)
        assert ev["contact_ciphertext"] is None and ev["contact_key_id"] is None
        loc = ev["location"]
        assert -90 <= loc["lat"] <= 90 and -180 <= loc["lon"] <= 180
        assert re.fullmatch(r"D0\d-\d{4}", loc["grid_id"])


def test_arrivals_peak_in_the_day_and_on_weekdays(events: list[Event]) -> None:
    local = [e.occurred_at + timedelta(hours=8) for e in events if e.type == "CaseReported"]
    by_hour = Counter(t.hour for t in local)
    by_weekday = Counter(t.weekday() for t in local)  # three of each weekday in 21 days

    assert by_hour[10] > 4 * by_hour[3]
    assert by_weekday[0] > 1.3 * by_weekday[6]


def test_events_pass_the_schema_checks_of_new_event() -> None:
    plain = list(simulate(4, 150, seed=3, start=START))
    checked = list(simulate(4, 150, seed=3, start=START, validate=True))

    assert [e.fields for e in checked] == [e.fields for e in plain]


def test_jsonl_round_trips_through_event_from_json(tmp_path: Path) -> None:
    original = list(simulate(2, 100, seed=5, start=START))
    path = tmp_path / "events.jsonl"

    assert write_jsonl(original, path) == len(original)
    lines = path.read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    assert first["type"] == "CaseReported" and first["occurred_at"].endswith("Z")
    back = [event_from_json(json.loads(line), max_future=timedelta(days=36500)) for line in lines]
    assert [e.fields for e in back] == [e.fields for e in original]


def test_simulate_streams_instead_of_building_the_whole_run() -> None:
    # A century of cases would never fit in memory; the first events come at once.
    first = list(itertools.islice(simulate(36_500, 1000, seed=1, start=START), 50))

    assert len(first) == 50


def test_naive_start_is_rejected_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next(simulate(1, 10, seed=1, start=datetime(2024, 5, 1)))


def test_the_checker_itself_rejects_an_illegal_sequence(by_case: dict[str, list[Event]]) -> None:
    closed = next(
        evs
        for evs in by_case.values()
        if check_case(evs).state == "CLOSED" and any(e.type == "TaskAccepted" for e in evs)
    )
    without_accept = [e for e in closed if e.type != "TaskAccepted"]

    with pytest.raises(AssertionError):
        check_case(without_accept)
    with pytest.raises(AssertionError):
        check_case([*closed, closed[0]])  # reported twice


def test_an_injected_surge_multiplies_its_cell_only_during_its_span() -> None:
    from collections import Counter

    from civicloop.tools.simulate.config import SimConfig, Surge

    start = datetime(2026, 3, 2, tzinfo=UTC)
    surge = Surge("water.leak", "D01", int((start + timedelta(days=7)).timestamp()), 24, 6.0)
    events = simulate(14, 400, 5, start, SimConfig(surges=(surge,)))
    per_day: Counter[int] = Counter()
    for e in events:
        if e.type == "CaseReported" and e["category"] == "water.leak" and e["location"]["district"] == "D01":
            per_day[(e.occurred_at - start).days] += 1
    others = [per_day[d] for d in range(14) if d != 7]
    assert per_day[7] > 2 * max(others)  # six times the rate: far above any ordinary day


def test_simulated_escalations_are_the_watchdogs_own_bytes(events: list[Event]) -> None:
    # One body per event id: the worker's watchdog, meeting a simulated overdue task before
    # its escalation is projected, sends the same bytes (a redelivery, not a conflict).
    automatic = [
        e
        for e in events
        if e.type == "CaseEscalated" and e["reason"] in ("accept_overdue", "dispose_overdue")
    ]
    assert len(automatic) > 20
    for simulated in automatic:
        item = Overdue(simulated.case_id, simulated["task_id"], simulated["reason"], simulated["deadline"])
        assert encode(simulated) == encode(escalation(item)), simulated.case_id
