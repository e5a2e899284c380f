"""The mutable scratchpad for one simulated case while its timeline is being written."""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from civicloop.projections.fold.clock import seconds
from civicloop.projections.fold.policy import deadlines_for, default_policy
from civicloop.tools.simulate.config import Category

T = TypeVar("T")
# (epoch seconds, event type, actor, source, event-specific fields)
Step = tuple[int, str, dict[str, str], str, dict[str, Any]]

SOURCES = {
    "hotline": "hotline-app/2.3",
    "citizen": "citizen-app/1.8",
    "grid": "grid-app/3.1",
    "dept": "dept-portal/1.4",
    "watchdog": "civicloop-sla-watchdog",
    "iot": "iot-gateway/0.9",
    "supervisor": "supervision-console/1.2",
}


def ts(t: int) -> datetime:
    return datetime.fromtimestamp(t, UTC)


@dataclass(slots=True)
class Case:
    case_id: str
    category: Category
    priority: str
    citizen: bool  # a reachable reporter: contact and feedback happen only then
    district: str
    steps: list[Step] = field(default_factory=list)
    tasks: int = 0

    def add(self, t: int, etype: str, actor: dict[str, str], app: str, **fields: Any) -> int:
        # Timelines are written in causal order; clamping keeps them monotone even when two
        # independent delays would put a later step a second earlier.
        if self.steps and t < self.steps[-1][0]:
            t = self.steps[-1][0]
        self.steps.append((t, etype, actor, SOURCES[app], fields))
        return t

    def new_task_id(self) -> str:
        self.tasks += 1
        return f"{self.case_id}-t{self.tasks}"


class Weighted(Generic[T]):
    """A fixed weighted choice; cheaper than `random.choices`, which re-sums every call."""

    def __init__(self, items: Sequence[T], weights: Sequence[float]) -> None:
        self.items = list(items)
        self.cum = [sum(weights[: i + 1]) for i in range(len(weights))]
        self.total = self.cum[-1]

    def draw(self, rng: random.Random) -> T:
        return self.items[bisect(self.cum, rng.random() * self.total)]


def between(rng: random.Random, low: int, high: int) -> int:
    """Uniform integer in [low, high]; `randint` without its argument checks (hot path)."""
    return low + int(rng.random() * (high - low + 1))


def agent(rng: random.Random) -> dict[str, str]:
    return {"type": "hotline_agent", "id": f"agent-{between(rng, 1, 60):03d}"}


def dept(name: str) -> dict[str, str]:
    return {"type": "department", "id": name}


def supervisor(rng: random.Random) -> dict[str, str]:
    return {"type": "supervisor", "id": f"sup-{between(rng, 1, 6):02d}"}


def watchdog() -> dict[str, str]:
    return {"type": "system", "id": "sla-watchdog"}


def lognormal(rng: random.Random, median: float, sigma: float) -> int:
    return max(1, int(median * rng.lognormvariate(0.0, sigma)))


def deadlines(category: Category, priority: str, t: int) -> tuple[int, int, str]:
    """(accept-by, dispose-by, policy rule name) for a task dispatched at ``t``: drawn from the
    deadline policy (``deadlines.toml``) like any real dispatch, by the category's class."""
    accept_by, dispose_by = deadlines_for(category.cls, priority, ts(t))
    return seconds(accept_by), seconds(dispose_by), policy_name(category, priority)


def policy_name(category: Category, priority: str) -> str:
    """The deadline policy rule that applies (``CaseRegistered.deadline_policy``)."""
    return default_policy().rule(category.cls, priority).name
