"""Deadline policy: (category, priority) → accept-by and dispose-by, from ``deadlines.toml``.

The policy is configuration (docs/DESIGN.md §4); the packaged file is the default, another file can be
loaded with ``load_policy(path)``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from civicloop.projections.fold.calendar import Calendar, add_working_time

DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhd])\s+(wall|working)\s*$")


@dataclass(frozen=True)
class Duration:
    amount: float
    unit: str  # m | h | d
    working: bool

    @classmethod
    def parse(cls, text: str) -> Duration:
        match = _DURATION.match(text)
        if match is None:
            raise ValueError(f"deadline {text!r}: write e.g. '30m wall', '2h wall', '7d working'")
        return cls(float(match[1]), match[2], match[3] == "working")

    def after(self, start: datetime, cal: Calendar) -> datetime:
        if not self.working:
            return start + timedelta(**{_UNITS[self.unit]: self.amount})
        seconds = self.amount * (cal.day_seconds() if self.unit == "d" else _SECONDS[self.unit])
        return add_working_time(start, timedelta(seconds=seconds), cal)


_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
_SECONDS = {"m": 60, "h": 3600}


@dataclass(frozen=True)
class Rule:
    name: str  # "category/priority" of the entry applied (CaseRegistered.deadline_policy)
    accept_by: Duration
    dispose_by: Duration


@dataclass(frozen=True)
class Policy:
    calendar: Calendar
    rules: dict[tuple[str, str], Rule]

    def rule(self, category: str, priority: str) -> Rule:
        for key in ((category, priority), (category, "*"), ("*", priority), ("*", "*")):
            if key in self.rules:
                return self.rules[key]
        raise LookupError(
            f"no deadline policy for category {category!r}, priority "
            f'{priority!r}: add [policy."*"."*"] to deadlines.toml'
        )


def deadlines_for(
    category: str, priority: str, dispatched_at: datetime, policy: Policy | None = None
) -> tuple[datetime, datetime]:
    """(accept_by, dispose_by) for a task dispatched at ``dispatched_at``.

    A working-time accept-by can fall after a wall-clock dispose-by (a high-priority task
    dispatched on a Saturday night: "2h working" is Monday 11:00, "24h wall" is Sunday night);
    the task must then be signed for by its dispose-by, so accept-by is capped there."""
    policy = policy or default_policy()
    rule = policy.rule(category, priority)
    dispose_by = rule.dispose_by.after(dispatched_at, policy.calendar)
    return min(rule.accept_by.after(dispatched_at, policy.calendar), dispose_by), dispose_by


@cache
def default_policy() -> Policy:
    text = resources.files("civicloop.projections.fold").joinpath("deadlines.toml").read_text()
    return parse_policy(tomllib.loads(text))


def load_policy(path: Path) -> Policy:
    return parse_policy(tomllib.loads(path.read_text()))


def parse_policy(doc: dict[str, Any]) -> Policy:
    cal = doc.get("calendar", {})
    opens, closes = (time.fromisoformat(t) for t in cal.get("office_hours", ["09:00", "18:00"]))
    calendar = Calendar(
        tz=cal.get("timezone", "America/New_York"),
        opens=opens,
        closes=closes,
        workdays=frozenset(DAYS[d] for d in cal.get("workdays", list(DAYS)[:5])),
        holidays=frozenset(cal.get("holidays", [])),
        make_up_days=frozenset(cal.get("make_up_days", [])),
    )
    rules = {
        (category, priority): Rule(
            f"{category}/{priority}", Duration.parse(entry["accept_by"]), Duration.parse(entry["dispose_by"])
        )
        for category, by_priority in doc.get("policy", {}).items()
        for priority, entry in by_priority.items()
    }
    return Policy(calendar, rules)
