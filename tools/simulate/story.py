"""The whole life of one case, written up front as a time-ordered list of steps."""

from __future__ import annotations

import random
from collections import deque
from hashlib import blake2b

from civicloop.tools.simulate.case import Case, Step, Weighted, agent, between, lognormal, policy_name
from civicloop.tools.simulate.city import sample_location
from civicloop.tools.simulate.closing import run_to_close
from civicloop.tools.simulate.config import (
    CHANNELS,
    CITIZEN_CHANNELS,
    MIN,
    Category,
    SimConfig,
    Surge,
)

_CHANNEL = Weighted([c for c, _ in CHANNELS], [w for _, w in CHANNELS])
PRIORITIES = ("urgent", "high", "normal", "low")
_REPORTER_APP = {
    "app": "citizen",
    "wechat": "citizen",
    "web": "citizen",
    "grid_inspector": "grid",
    "camera": "iot",
    "sensor": "iot",
}
Recent = dict[str, deque[str]]


class Storyteller:
    """Writes case timelines; remembers a few recent cases per category for duplicates."""

    def __init__(self, cfg: SimConfig, rng: random.Random, salt: bytes) -> None:
        self.cfg, self.rng, self.salt = cfg, rng, salt
        self.category = Weighted(cfg.categories, [c.weight for c in cfg.categories])
        self.by_code = {c.code: c for c in cfg.categories}
        self.priority = {c.code: Weighted(PRIORITIES, c.priorities) for c in cfg.categories}
        self.recent: Recent = {c.code: deque(maxlen=cfg.recent_cases) for c in cfg.categories}

    def reporter_ref(self) -> str:
        # Pseudonymous and stable per simulated person: a keyed hash of a person number drawn
        # with a heavy tail, so some citizens report again and again.
        person = int(self.rng.paretovariate(1.1) * 1000)
        digest = blake2b(person.to_bytes(8, "big"), key=self.salt, digest_size=8)
        return "r-" + digest.hexdigest()

    def tell(self, case_id: str, t: int, surge: Surge | None = None) -> list[Step]:
        """The case's whole life; an injected ``surge`` fixes its category and district."""
        rng = self.rng
        cat: Category = self.category.draw(rng) if surge is None else self.by_code[surge.category]
        channel = _CHANNEL.draw(rng)
        if cat.direct and channel not in CITIZEN_CHANNELS:
            channel = "hotline"  # only citizens ask the hotline questions
        citizen = channel in CITIZEN_CHANNELS
        where = sample_location(rng, surge.district if surge else None)
        priority = self.priority[cat.code].draw(rng)
        case = Case(case_id, cat, priority, citizen, where["district"])
        ref = self.reporter_ref() if citizen else None
        app = _REPORTER_APP.get(channel, "hotline")
        actor = self._reporter_actor(app, ref, case)
        case.add(
            t,
            "CaseReported",
            actor,
            app,
            channel=channel,
            category=cat.code,
            description=f"{cat.code} near {where['address']}",
            location=where,
            priority=priority,
            reporter_ref=ref,
            contact_ciphertext=None,
            contact_key_id=None,
            media_url=None,
            address_id=None,
            attributes=None,
        )
        if not self._register_or_void(case, t):
            return case.steps
        self.recent[cat.code].append(case_id)
        return case.steps

    def _reporter_actor(self, app: str, ref: str | None, case: Case) -> dict[str, str]:
        if app == "citizen" and ref:
            return {"type": "citizen", "id": ref}
        if app == "grid":
            return {"type": "grid_inspector", "id": f"gi-{case.district}-{between(self.rng, 1, 9)}"}
        if app == "iot":
            return {"type": "system", "id": f"iot-{case.district}"}
        return agent(self.rng)

    def _register_or_void(self, case: Case, t: int) -> bool:
        """Register (or void) the case and run it to the end; False if it was voided."""
        rng, rates = self.rng, self.cfg.rates
        r = rng.random()
        if r < rates.invalid + rates.out_of_scope:
            reason = "invalid" if r < rates.invalid else "out_of_scope"
            case.add(
                t + lognormal(rng, 15 * MIN, 0.8),
                "CaseVoided",
                agent(rng),
                "hotline",
                reason=reason,
                duplicate_of=None,
                note=None,
                department=None,  # voided at intake, before any routing
            )
            return False
        t = case.add(
            t + lognormal(rng, 6 * MIN, 0.9),
            "CaseRegistered",
            agent(rng),
            "hotline",
            **self._registration(case),
        )
        originals = self.recent[case.category.code]
        if originals and rng.random() < rates.duplicate:
            case.add(
                t + lognormal(rng, 30 * MIN, 0.8),
                "CaseVoided",
                agent(rng),
                "hotline",
                reason="duplicate",
                duplicate_of=rng.choice(originals),
                note=None,
                department=None,
            )
            return False
        run_to_close(self.cfg, case, self.rng, t)
        return True

    def _registration(self, case: Case) -> dict[str, str]:
        rng = self.rng
        if not case.category.direct and rng.random() < 0.04:  # re-categorised on registration
            case.category = rng.choice([c for c in self.cfg.categories if not c.direct])
        if rng.random() < 0.05:
            case.priority = rng.choice(PRIORITIES[:3])
        return {
            "category": case.category.code,
            "priority": case.priority,
            "deadline_policy": policy_name(case.category, case.priority),
        }
