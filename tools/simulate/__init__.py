"""A realistic city workload, as events: `simulate(...)` streams them, `write_jsonl` saves them."""

from civicloop.tools.simulate.config import Category, Rates, SimConfig
from civicloop.tools.simulate.engine import simulate
from civicloop.tools.simulate.jsonl import write_jsonl

__all__ = ["Category", "Rates", "SimConfig", "simulate", "write_jsonl"]
