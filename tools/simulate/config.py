"""What the simulated city looks like: categories, their departments, deadline classes, rates.

Everything the simulator draws from lives here as plain data, so a scenario is a `SimConfig`
value and a reader can see the whole workload model at a glance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

MIN = 60
HOUR = 3600
DAY = 86400


@dataclass(frozen=True, slots=True)
class Category:
    code: str
    weight: float
    cls: str  # deadline class = policy category in deadlines.toml: emergency|utilities|general|complex
    lead: str  # department that normally leads
    others: tuple[str, ...] = ()  # assists for joint tasks, and where returned tasks go next
    priorities: tuple[float, float, float, float] = (0.02, 0.13, 0.75, 0.10)  # urgent..low
    dispose_share: float = 0.3  # median handling time as a share of the dispose window
    p_joint: float = 0.02  # 吹哨报到: lead plus assists
    p_return: float = 0.06  # 退单
    direct: bool = False  # answered by the hotline itself (咨询类), closed without dispatch


# fmt: off
# The workload as a table: code, weight, deadline class, lead department, other departments.
CATEGORIES: tuple[Category, ...] = (
    Category("road.pothole", 8, "general", "transport", ("urban_mgmt",)),
    Category("streetlight.out", 6, "utilities", "power_utility", ("transport",), dispose_share=0.4),
    Category("water.leak", 5, "utilities", "water", ("transport", "urban_mgmt"),
             (0.15, 0.35, 0.45, 0.05), dispose_share=0.35),
    Category("water.no_supply", 3, "emergency", "water", ("housing",),
             (0.5, 0.4, 0.1, 0.0), dispose_share=0.45),
    Category("sanitation.garbage", 14, "general", "sanitation", ("urban_mgmt",), dispose_share=0.1),
    Category("noise.construction", 9, "general", "urban_mgmt", ("environment", "housing"),
             p_return=0.1),
    Category("traffic.illegal_parking", 10, "utilities", "traffic_police", ("urban_mgmt",),
             dispose_share=0.15),
    Category("env.air_pollution", 4, "general", "environment", ("urban_mgmt",), p_joint=0.1),
    Category("housing.property_mgmt", 8, "general", "housing", ("market_regulation",),
             p_return=0.12),
    Category("market.food_safety", 4, "general", "market_regulation", ("health",)),
    Category("greenery.tree", 4, "general", "parks", ("power_utility", "transport")),
    Category("drainage.flooding", 3, "emergency", "water", ("urban_mgmt", "transport"),
             (0.4, 0.4, 0.2, 0.0), dispose_share=0.5, p_joint=0.35),
    Category("building.illegal_construction", 4, "complex", "urban_mgmt",
             ("housing", "planning", "street_office"), p_joint=0.4, p_return=0.08),
    Category("info.consultation", 8, "general", "hotline", direct=True),
)

# Local hour-of-day and weekday (Mon=0) shape of arrivals: a daytime peak, quiet nights,
# lighter weekends. Only the shape matters; `cases_per_day` sets the level.
HOUR_SHAPE = (0.15, 0.1, 0.08, 0.07, 0.08, 0.15, 0.35, 0.8, 1.5, 1.9, 2.0, 1.8,
              1.3, 1.5, 1.8, 1.8, 1.7, 1.5, 1.1, 0.9, 0.8, 0.6, 0.4, 0.25)
WEEKDAY_SHAPE = (1.15, 1.1, 1.05, 1.05, 1.0, 0.75, 0.65)

CHANNELS = (("hotline", 45), ("app", 14), ("wechat", 12), ("web", 5), ("email", 1),
            ("walk_in", 1), ("grid_inspector", 14), ("camera", 5), ("sensor", 2),
            ("higher_level", 1))
CITIZEN_CHANNELS = frozenset({"hotline", "app", "wechat", "web", "email", "walk_in"})

OUTCOMES = (("fixed", 82), ("no_further_action", 7), ("not_responsible", 4), ("referred", 3),
            ("cannot_fix", 3), ("other", 1))
CLOSURE_FOR_OUTCOME = {"fixed": "resolved", "no_further_action": "no_further_action",
                       "not_responsible": "not_responsible", "referred": "referred",
                       "cannot_fix": "other", "other": "other"}
# fmt: on


@dataclass(frozen=True, slots=True)
class Rates:
    """Probabilities of the branches a case can take."""

    invalid: float = 0.02
    out_of_scope: float = 0.015
    duplicate: float = 0.035
    withdrawn: float = 0.005
    contact: float = 0.9  # handler phones the reporter (only citizen channels)
    extension: float = 0.35  # of tasks that will run late, share granted an extension first
    supervisor: float = 0.03
    check_fail: float = 0.07
    feedback: float = 0.7
    unresolved: float = 0.12
    reopen: float = 0.6  # of unresolved feedback
    stuck: float = 0.01  # handling drags on for weeks (feeds the open-overdue backlog)
    night_wait: float = 0.35  # non-urgent task dispatched at night waits for office hours


@dataclass(frozen=True, slots=True)
class Surge:
    """An injected surge with known ground truth: reports of ``category`` in ``district`` arrive
    ``multiplier`` times as fast as usual from ``start`` (epoch seconds) for ``hours``."""

    category: str
    district: str
    start: int
    hours: float
    multiplier: float

    def __post_init__(self) -> None:
        if self.multiplier <= 1 or self.hours <= 0:
            raise ValueError(f"surge {self!r}: multiplier must exceed 1 and hours be positive")


@dataclass(frozen=True, slots=True)
class SimConfig:
    categories: tuple[Category, ...] = CATEGORIES
    rates: Rates = field(default_factory=Rates)
    utc_offset: timedelta = timedelta(hours=8)  # the city's local time, fixed (no DST)
    case_prefix: str = "sim-"
    recent_cases: int = 64  # per category, candidates for duplicate_of (bounded memory)
    surges: tuple[Surge, ...] = ()  # injected surges (bench signals, tests)
