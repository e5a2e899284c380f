"""From an accepted lead task to a closed case: contact, extensions, escalations, assists,
disposal, on-site check with rework, closure."""

from __future__ import annotations

import random

from civicloop.tools.simulate.case import (
    Case,
    Weighted,
    agent,
    between,
    deadlines,
    dept,
    lognormal,
    supervisor,
    ts,
)
from civicloop.tools.simulate.config import (
    CLOSURE_FOR_OUTCOME,
    HOUR,
    MIN,
    OUTCOMES,
    SimConfig,
)
from civicloop.tools.simulate.handling import Pending, flush, overdue, until_accepted

_OUTCOME = Weighted([o for o, _ in OUTCOMES], [w for _, w in OUTCOMES])


def _inspector(case: Case, rng: random.Random) -> dict[str, str]:
    return {"type": "grid_inspector", "id": f"gi-{case.district}-{between(rng, 1, 9)}"}


def _during_work(
    cfg: SimConfig,
    case: Case,
    rng: random.Random,
    accepted: int,
    task: str,
    name: str,
    dispose_by: int,
    helpers: list[str],
    assists: tuple[str, ...],
) -> int:
    """Write everything between acceptance and the lead's disposal; return the disposal time."""
    _, due, _ = deadlines(case.category, case.priority, accepted)
    window = due - accepted
    took = lognormal(rng, window * case.category.dispose_share, 1.0)
    if rng.random() < cfg.rates.stuck:
        took *= 20
    done = accepted + took
    span = done - accepted
    pending: Pending = []
    if case.citizen and rng.random() < cfg.rates.contact:
        # Mostly right after signing for the task; sometimes only after accept-by.
        at = accepted + min(lognormal(rng, 10 * MIN, 1.2), span // 2)
        pending.append((at, "CitizenContacted", dept(name), "dept", {"task_id": task}))
    if done > dispose_by > accepted + 1 and rng.random() < cfg.rates.extension:
        new = dispose_by + int(window * rng.uniform(0.3, 1.5))
        pending.append(
            (
                rng.randint(accepted + 1, dispose_by - 1),
                "DeadlineExtended",
                dept(name),
                "dept",
                {"task_id": task, "new_dispose_by": ts(new), "approver": supervisor(rng)["id"]},
            )
        )
        dispose_by = new
    if dispose_by + 1 >= accepted:  # else escalated before the acceptance (until_accepted)
        pending += overdue(case.case_id, task, dispose_by, done, "dispose_overdue")
    if rng.random() < cfg.rates.supervisor:
        reason = rng.choice(("supervisor", "citizen_urge"))
        pending.append(
            (
                accepted + int(span * rng.random()),
                "CaseEscalated",
                supervisor(rng),
                "supervisor",
                {"level": rng.choice((1, 1, 2)), "reason": reason, "task_id": task, "deadline": None},
            )
        )
    for helper, other in zip(helpers, assists, strict=True):
        # Assists sign after the lead and finish before it, so the lead's disposal is the
        # case's disposal (吹哨报到: the lead answers for the case).
        pending.append(
            (
                accepted + int(span * rng.uniform(0.0, 0.3)),
                "TaskAccepted",
                dept(other),
                "dept",
                {"task_id": helper},
            )
        )
        pending.append(
            (
                accepted + int(span * rng.uniform(0.4, 0.95)),
                "TaskDisposed",
                dept(other),
                "dept",
                {"task_id": helper, "outcome": "fixed", "note": None},
            )
        )
    flush(case, pending)
    return done


def work_round(cfg: SimConfig, case: Case, rng: random.Random, t: int, first: bool) -> tuple[int, str]:
    """One dispatch round through to closure; returns (closure time, disposal outcome)."""
    cat = case.category
    joint = first and cat.others and rng.random() < cat.p_joint
    assists = tuple(rng.sample(cat.others, rng.randint(1, len(cat.others)))) if joint else ()
    accepted, task, name, dispose_by, helpers = until_accepted(cfg, case, rng, t, assists)
    done = _during_work(cfg, case, rng, accepted, task, name, dispose_by, helpers, assists)
    outcome = _OUTCOME.draw(rng)
    check_delay = 30 * MIN if case.priority == "urgent" else 4 * HOUR
    for rework in range(3):
        t = case.add(
            done,
            "TaskDisposed",
            dept(name),
            "dept",
            task_id=task,
            outcome=outcome,
            note=None if rework == 0 else "rework after failed check",
        )
        t += lognormal(rng, check_delay, 0.8)
        passed = outcome != "fixed" or rework == 2 or rng.random() >= cfg.rates.check_fail
        t = case.add(
            t,
            "CaseChecked",
            _inspector(case, rng),
            "grid",
            passed=passed,
            note=None if passed else "problem still visible on site",
        )
        if passed:
            break
        done = t + lognormal(rng, 6 * HOUR, 1.0)
    t += lognormal(rng, 1 * HOUR, 1.0)
    t = case.add(t, "CaseClosed", agent(rng), "hotline", reason=CLOSURE_FOR_OUTCOME[outcome])
    return t, outcome
