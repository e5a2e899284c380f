"""A seeded generator of legal case histories covering every path of the lifecycle.

Deadlines come from the packaged policy; times carry milliseconds (the fold floors them).
``redeliver`` re-inserts some events later in their case's stream (at-least-once delivery).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from civicloop.projections.fold.policy import deadlines_for
from civicloop.schemas.event import Event
from tests.support import case_events as ev

CATEGORIES = ("roads", "utilities", "sanitation", "noise")
PRIORITIES = ("urgent", "high", "normal", "low")
DEPARTMENTS = ("public_works", "water", "police", "parks", "housing")
START = datetime(2024, 1, 2, 13, 0, tzinfo=UTC)


class CaseSim:
    def __init__(self, rng: random.Random, case_id: str, t: datetime) -> None:
        self.rng, self.case_id, self.t = rng, case_id, t
        self.events: list[Event] = []
        self.cat, self.prio = rng.choice(CATEGORIES), rng.choice(PRIORITIES)
        self.tasks = 0
        self.due: dict[str, datetime] = {}

    def step(self, max_hours: float = 30) -> datetime:
        jitter = timedelta(milliseconds=self.rng.randint(0, 999))
        self.t += timedelta(hours=self.rng.uniform(0, max_hours)) + jitter
        return self.t

    def emit(self, maker, *args, **kw) -> None:  # type: ignore[no-untyped-def]
        t = self.step(kw.pop("hours", 30))
        self.events.append(maker(t, *args, case_id=self.case_id, **kw))

    def dispatch(self, role: str = "lead") -> str:
        self.tasks += 1
        task_id = f"{self.case_id}-T{self.tasks}"
        t = self.step(12)
        accept_by, dispose_by = deadlines_for(self.cat, self.prio, t)
        self.events.append(
            ev.event(
                "TaskDispatched",
                t,
                self.case_id,
                task_id=task_id,
                department=self.rng.choice(DEPARTMENTS),
                role=role,
                accept_by=accept_by,
                dispose_by=dispose_by,
            )
        )
        self.due[task_id] = dispose_by
        return task_id

    def task(self, maker, task_id: str, hours: float = 30, **kw) -> None:  # type: ignore[no-untyped-def]
        t = self.step(hours)
        self.events.append(maker(t, task_id=task_id, case_id=self.case_id, **kw))


def simulate(rng: random.Random, case_id: str, t: datetime) -> list[Event]:
    sim = CaseSim(rng, case_id, t)
    sim.events.append(
        ev.reported(
            t,
            case_id,
            category=sim.cat,
            priority=sim.prio,
            channel=rng.choice(("hotline", "app", "web")),
            district=rng.choice(("D1", "D2", "D3")),
            grid_id=rng.choice(("G1", "G2", "")),
        )
    )
    roll = rng.random()
    if roll < 0.05:
        sim.emit(ev.voided, "duplicate", duplicate_of="C-other")
        return sim.events
    sim.emit(ev.registered, category=sim.cat, priority=sim.prio, hours=6)
    if roll < 0.10:
        sim.emit(ev.closed if roll < 0.08 else ev.voided, hours=2)
        return sim.events
    _work(sim, rng)
    return sim.events


def _work(sim: CaseSim, rng: random.Random) -> None:
    lead = sim.dispatch()
    if rng.random() < 0.3:
        assist = sim.dispatch("assist")
        sim.task(ev.accepted, assist, hours=3)
    if rng.random() < 0.15:
        sim.task(ev.returned, lead, hours=4)
        lead = sim.dispatch()
    if rng.random() < 0.1:
        return  # still dispatched, maybe overdue
    sim.task(ev.accepted, lead, hours=rng.choice((0.3, 2, 20)))
    if rng.random() < 0.8:
        sim.task(ev.contacted, lead, hours=rng.choice((0.2, 3, 30)))
    if rng.random() < 0.2:
        sim.emit(ev.escalated, level=rng.randint(1, 3), hours=20)
    if rng.random() < 0.2:
        new_due = sim.due[lead] + timedelta(days=rng.choice((1, 5, 20)))
        sim.task(ev.extended, lead, new_dispose_by=new_due, hours=5)
    if rng.random() < 0.1:
        return  # in progress
    _dispose_to_close(sim, rng, lead)


def _dispose_to_close(sim: CaseSim, rng: random.Random, lead: str) -> None:
    sim.task(ev.disposed, lead, hours=rng.choice((10, 60, 200)))
    sim.emit(ev.checked, passed=rng.random() > 0.2, hours=10)
    if not sim.events[-1]["passed"]:
        sim.task(ev.disposed, lead, hours=40)
        sim.emit(ev.checked, passed=True, hours=10)
    if rng.random() < 0.05:
        return  # checked, awaiting closure
    sim.emit(ev.closed, hours=5)
    if rng.random() < 0.7:
        resolved = rng.random() < 0.75
        sim.emit(
            ev.feedback,
            resolved=resolved,
            satisfaction=rng.choice(("satisfied", "basically_satisfied", "unsatisfied")),
        )
        if not resolved and rng.random() < 0.5:
            sim.emit(ev.reopened, hours=24)
            if rng.random() < 0.7:
                lead = sim.dispatch()
                sim.task(ev.accepted, lead, hours=2)
                sim.task(ev.contacted, lead, hours=1)
                _dispose_to_close(sim, rng, lead)


def workload(seed: int, cases: int, spread_days: float = 90) -> list[list[Event]]:
    """Per case, its events in delivery order (with some redeliveries)."""
    rng = random.Random(seed)
    out = []
    for n in range(cases):
        start = START + timedelta(days=rng.uniform(0, spread_days))
        events = simulate(rng, f"C-{seed}-{n}", start)
        out.append(redeliver(rng, events))
    return out


def redeliver(rng: random.Random, events: list[Event]) -> list[Event]:
    out = list(events)
    for _ in range(rng.choice((0, 0, 1, 2))):
        i = rng.randrange(len(out))
        out.insert(rng.randint(i + 1, len(out)), out[i])
    return out
