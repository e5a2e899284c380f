"""After registration: close (directly, withdrawn, or through departments), then the return
visit; unresolved feedback may reopen the case for another round (at most once)."""

from __future__ import annotations

import random

from civicloop.tools.simulate.case import Case, Weighted, agent, lognormal, supervisor
from civicloop.tools.simulate.config import DAY, HOUR, MIN, SimConfig
from civicloop.tools.simulate.work import work_round

_RATING = ("satisfied", "basically_satisfied", "unsatisfied")
_RATING_RESOLVED = Weighted(_RATING, (70, 25, 5))
_RATING_UNRESOLVED = Weighted(_RATING, (2, 18, 80))


def run_to_close(cfg: SimConfig, case: Case, rng: random.Random, t: int) -> None:
    rates = cfg.rates
    if not case.category.direct and rng.random() < rates.withdrawn:
        t += lognormal(rng, 2 * HOUR, 1.0)
        case.add(t, "CaseClosed", agent(rng), "hotline", reason="withdrawn")
        return
    if case.category.direct:  # answered on the phone (直接办结)
        t += lognormal(rng, 4 * MIN, 0.7)
        t = case.add(t, "CaseClosed", agent(rng), "hotline", reason="resolved")
        outcome = "fixed"
    else:
        t += lognormal(rng, (2 if case.priority == "urgent" else 15) * MIN, 0.8)
        t, outcome = work_round(cfg, case, rng, t, first=True)
    for round_no in range(2):
        if not case.citizen or rng.random() >= rates.feedback:
            return
        t, resolved = feedback(cfg, case, rng, t, outcome)
        if resolved or case.category.direct or round_no == 1 or rng.random() >= rates.reopen:
            return
        t += lognormal(rng, 3 * HOUR, 0.8)
        t = case.add(t, "CaseReopened", supervisor(rng), "supervisor", reason="unresolved_feedback")
        t, outcome = work_round(cfg, case, rng, t + lognormal(rng, 20 * MIN, 0.8), first=False)


def feedback(cfg: SimConfig, case: Case, rng: random.Random, t: int, outcome: str) -> tuple[int, bool]:
    """Write the return visit (回访); returns its time and whether the problem is solved."""
    unresolved = cfg.rates.unresolved * (1 if outcome == "fixed" else 3)
    resolved = rng.random() >= unresolved
    rating = (_RATING_RESOLVED if resolved else _RATING_UNRESOLVED).draw(rng)
    t += lognormal(rng, 1 * DAY, 0.7)
    # entered by a hotline agent: no stars or comment of the citizen's own (FeedbackReceived v2)
    t = case.add(
        t,
        "FeedbackReceived",
        agent(rng),
        "hotline",
        resolved=resolved,
        satisfaction=rating,
        rating=None,
        comment=None,
    )
    return t, resolved
