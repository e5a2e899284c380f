"""Metric SQL on chDB: hand-computed values on a small event set, and the reference oracle on a
generated workload. Period P = Mon 4 Mar 2024 00:00 UTC .. Mon 11 Mar; now = Thu 7 Mar 00:00."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from civicloop.projections.fold.lifecycle import fold
from civicloop.projections.metrics.closed_loop import metrics
from civicloop.projections.metrics.reports import backlog, durations
from civicloop.projections.tables.rows import case_row, task_rows
from civicloop.schemas.event import Event
from civicloop.stats import quantile_exact
from tests.support import case_events as ev
from tests.support.case_events import at
from tests.support.chdb_support import Chdb
from tests.support.reference_metrics import reference_metrics
from tests.support.rows import write_rows
from tests.support.workload import workload

P_FROM, P_TO = datetime(2024, 3, 4, tzinfo=UTC), datetime(2024, 3, 11, tzinfo=UTC)
NOW = at(58)  # Thu 7 Mar 00:00 UTC
NY = ZoneInfo("America/New_York")


def project(engine: Chdb, cases: list[list[Event]], flush_every: int = 0) -> str:
    """Fold each case and write its rows, also after every ``flush_every`` events."""
    db = engine.new_database("metrics")
    case_rows, tasks = [], []
    for events in cases:
        state = None
        for n, event in enumerate(events, 1):
            state = fold(state, event)
            if state is not None and (n == len(events) or (flush_every and n % flush_every == 0)):
                case_rows.append(case_row(state))
                tasks += task_rows(state)
    write_rows(engine, db, case_rows, tasks)
    return db


def case(cid: str, dept: str, *events: Event, reported: float = 0) -> list[Event]:
    head = [ev.reported(at(reported), cid), ev.registered(at(reported + 0.5), cid)]
    return [*head, *(_as(cid, e) for e in events)]


def _as(cid: str, event: Event) -> Event:
    return Event(event.type, {**event.fields, "case_id": cid})


def hand_built() -> list[list[Event]]:
    def lead(dept: str, h: float = 1, due_h: float = 48, task: str = "T1") -> Event:
        return ev.dispatched(at(h), task, dept, dispose_h=due_h)

    return [
        case(
            "A",
            "roads",
            lead("roads"),
            ev.accepted(at(1.5)),
            ev.contacted(at(1.5)),
            ev.disposed(at(20)),
            ev.checked(at(25)),
            ev.closed(at(30)),
            ev.feedback(at(31)),
        ),
        case(
            "B",
            "roads",
            lead("roads"),
            ev.accepted(at(5)),
            ev.closed(at(50)),
            ev.feedback(at(51), resolved=False, satisfaction="unsatisfied"),
            ev.reopened(at(52)),
        ),
        case("C", "roads", lead("roads", due_h=240)),
        case("H", "roads", lead("roads", due_h=100)),
        case("D", "water", lead("water", due_h=24), ev.extended(at(10), at(480))),
        case("E", "water", lead("water", -47, due_h=50), ev.closed(at(2)), reported=-48),
        [ev.reported(at(0), "F"), ev.voided(at(1), case_id="F")],
        case("G", "roads", lead("roads"), ev.returned(at(1.5)), lead("water", 2, due_h=24, task="T2")),
    ]


def by_group(rows: list[dict]) -> dict[str, dict]:
    return {r["group"]: r for r in rows}


def test_hand_computed_metrics_by_department(chdb):
    db = project(chdb, hand_built())
    got = by_group(metrics(chdb.query, db, "department", P_FROM, P_TO, NOW))
    roads, water, none = got["roads"], got["water"], got[""]
    assert {
        k: roads[k]
        for k in (
            "reported",
            "closed",
            "due",
            "due_closed",
            "closed_on_time",
            "open_overdue",
            "dispatched",
            "responded",
            "returned",
        )
    } == {
        "reported": 4,
        "closed": 1,
        "due": 3,
        "due_closed": 1,
        "closed_on_time": 1,
        "open_overdue": 1,
        "dispatched": 5,
        "responded": 1,
        "returned": 1,
    }
    assert (roads["closure_rate"], roads["on_time_closure_rate"]) == (1 / 3, 1 / 3)
    assert roads["on_time_rate_open_aware"] == 1 / 2  # H is due in P but not late yet
    assert (roads["response_rate"], roads["return_rate"]) == (1 / 5, 1 / 5)
    assert (roads["resolution_rate"], roads["satisfaction_rate"]) == (1 / 2, 1 / 2)
    assert (roads["rework_rate"], roads["extension_rate"]) == (0.0, 0.0)
    assert roads["p50_report_to_close_s"] == roads["p90_report_to_close_s"] == 30 * 3600
    # D's extension moved its deadline out of P; E was reported before P, closed on time in P
    assert {
        k: water[k]
        for k in ("reported", "closed", "due", "closed_on_time", "open_overdue", "dispatched", "responded")
    } == {
        "reported": 2,
        "closed": 1,
        "due": 2,
        "closed_on_time": 1,
        "open_overdue": 1,
        "dispatched": 2,
        "responded": 0,
    }
    assert (water["extension_rate"], water["rework_rate"], water["resolution_rate"]) == (1 / 2, None, None)
    assert (none["reported"], none["closure_rate"], none["extension_rate"]) == (1, None, None)


def joint_cases() -> list[list[Event]]:
    """吹哨报到: roads leads with parks / water assists, accept-by one hour after dispatch."""

    def task(task_id: str, dept: str, role: str = "assist", accept_h: float | None = 1) -> Event:
        return ev.dispatched(at(1), task_id, dept, role=role, accept_h=accept_h)

    return [
        # the lead accepts and contacts in time; parks signs for in time, water too late
        case(
            "J1",
            "roads",
            task("T1", "roads", "lead"),
            task("T2", "parks"),
            task("T3", "water"),
            ev.accepted(at(1.5)),
            ev.contacted(at(1.5)),
            ev.accepted(at(1.5), "T2"),
            ev.accepted(at(3), "T3"),
        ),
        # the lead accepts in time but never contacts; parks accepts and even contacts in time
        case(
            "J2",
            "roads",
            task("T1", "roads", "lead"),
            task("T2", "parks"),
            ev.accepted(at(1.2)),
            ev.accepted(at(1.2), "T2"),
            ev.contacted(at(1.2), "T2"),
        ),
        # an assist without an accept-by is in neither rate
        case(
            "J3",
            "roads",
            task("T1", "roads", "lead"),
            task("T2", "parks", accept_h=None),
            ev.accepted(at(1.2), "T2"),
        ),
    ]


def test_response_rate_counts_lead_tasks_and_assists_have_a_sign_for_rate(chdb):
    # given joint actions where assists sign for (and one even contacts the reporter)
    db = project(chdb, joint_cases())
    # when computed by department (task metrics by the task's own department)
    got = by_group(metrics(chdb.query, db, "department", P_FROM, P_TO, NOW))
    keys = ("dispatched", "lead_with_accept_by", "responded", "assist_with_accept_by", "assist_signed_for")
    # then only the lead that accepted and contacted in time responded, out of 3 leads;
    # parks signed for 2 of its 2 assist tasks with an accept-by; water 0 of 1
    assert {d: {k: got[d][k] for k in keys} for d in got} == {
        "roads": dict(zip(keys, (3, 3, 1, 0, 0), strict=True)),
        "parks": dict(zip(keys, (3, 0, 0, 2, 2), strict=True)),
        "water": dict(zip(keys, (1, 0, 0, 1, 0), strict=True)),
    }
    assert (got["roads"]["response_rate"], got["roads"]["assist_sign_for_rate"]) == (1 / 3, None)
    assert (got["parks"]["response_rate"], got["parks"]["assist_sign_for_rate"]) == (None, 1.0)
    assert got["water"]["assist_sign_for_rate"] == 0.0
    # and the oracle, written from docs/DESIGN.md §5, agrees for every dimension
    flat = [e for events in joint_cases() for e in events]
    for dim in ("department", "category", "all"):
        assert metrics(chdb.query, db, dim, P_FROM, P_TO, NOW) == reference_metrics(
            flat, dim, P_FROM, P_TO, NOW
        )


def test_hand_built_set_agrees_with_the_reference(chdb):
    cases = hand_built()
    db = project(chdb, cases, flush_every=2)
    flat = [e for events in cases for e in events]
    for dim in ("department", "category", "all"):
        assert metrics(chdb.query, db, dim, P_FROM, P_TO, NOW) == reference_metrics(
            flat, dim, P_FROM, P_TO, NOW
        )


def test_durations_in_wall_clock_and_working_time(chdb):
    weekend = case(
        "K", "parks", ev.dispatched(at(-47), "T1", "parks"), ev.closed(at(2)), reported=-48
    )  # Sat 2 Mar 09:00 NY → Mon 4 Mar 11:00 NY
    holiday = [
        ev.reported(datetime(2024, 7, 3, 17, tzinfo=NY), "J"),
        ev.registered(datetime(2024, 7, 3, 17, 10, tzinfo=NY), "J"),
        ev.closed(datetime(2024, 7, 5, 10, tzinfo=NY), case_id="J"),
    ]
    db = project(chdb, [hand_built()[0], weekend, holiday])
    got = {r["duration"]: r for r in durations(chdb.query, db, "all") if r["group"] == ""}
    close = got["report_to_close"]
    # A: 30 h wall, Mon 09:00–Tue 15:00 NY = 15 office h; K: 50 h wall, 2 office h (weekend);
    # J: 41 h wall, Wed 17:00 → Fri 10:00 with the 4 July holiday between = 2 office h
    assert close["n"] == 3
    assert (close["wall_p50"], close["wall_p99"]) == (41 * 3600, 50 * 3600)
    assert (close["working_p50"], close["working_p99"]) == (2 * 3600, 15 * 3600)
    assert got["dispatch_to_accept"]["wall_p50"] == 1800


def test_backlog_as_of_a_moment(chdb):
    db = project(chdb, hand_built())
    assert backlog(chdb.query, db, "all", NOW) == [
        {"group": "", "age_bucket": "1-3d", "overdue": False, "cases": 3},  # C, D, H
        {"group": "", "age_bucket": "1-3d", "overdue": True, "cases": 2},  # B, G
    ]


def test_rows_written_again_change_nothing(chdb):
    cases = hand_built()
    db = project(chdb, cases)
    before = metrics(chdb.query, db, "district", now=NOW)
    state = None
    for event in cases[0]:
        state = fold(state, event)
    write_rows(chdb, db, [case_row(state)], task_rows(state))
    assert metrics(chdb.query, db, "district", now=NOW) == before


@pytest.mark.parametrize("dim", ["department", "category", "district", "grid", "channel"])
def test_sql_matches_the_reference_on_a_generated_workload(chdb, dim):
    cases = workload(11, 600)
    db = project(chdb, cases, flush_every=3)
    flat = [e for events in cases for e in events]
    now = datetime(2024, 3, 20, tzinfo=UTC)
    for t_from, t_to in [
        (None, None),
        (datetime(2024, 2, 1, tzinfo=UTC), None),
        (datetime(2024, 1, 20, tzinfo=UTC), datetime(2024, 2, 20, tzinfo=UTC)),
    ]:
        got = metrics(chdb.query, db, dim, t_from, t_to, now)
        assert got == reference_metrics(flat, dim, t_from, t_to, now)
        assert sum(g["reported"] for g in got) > 0


def test_quantile_exact_semantics_match_clickhouse(chdb):
    values = [5, 1, 4, 2, 3, 9, 7, 8, 6, 10]
    sql = f"SELECT quantilesExact(0.5, 0.9, 0.99)(x) FROM (SELECT arrayJoin({values}) AS x)"
    assert [int(v) for v in chdb.query(sql)[0][0]] == [
        quantile_exact(values, level) for level in (0.5, 0.9, 0.99)
    ]
    assert quantile_exact([4, 5], 0.5) == 5 and quantile_exact([], 0.5) is None


def test_an_unknown_dimension_is_refused():
    with pytest.raises(ValueError, match="unknown dimension"):
        metrics(lambda sql: [], "db", "weather")


# --- tasks dispatched without a deadline (TaskDispatched v2: null accept_by / dispose_by) ---


def no_deadline_cases() -> list[list[Event]]:
    """Department "imports": leads without accept-by; two without any deadline."""

    def lead(accept_h: float | None = None, dispose_h: float | None = None) -> Event:
        return ev.dispatched(at(1), "T1", "imports", accept_h=accept_h, dispose_h=dispose_h)

    return [
        # accepted and contacted at once, but there is no accept-by to respond before
        case("N1", "imports", lead(), ev.accepted(at(1.5)), ev.contacted(at(1.5))),
        case("N2", "imports", lead(), ev.accepted(at(2)), ev.closed(at(30))),  # closed, never due
        case("N3", "imports", lead(dispose_h=24)),  # due at(25), open: overdue by NOW
        # an extension gives a deadline-less task its first deadline, at(40): overdue by NOW
        case("N4", "imports", lead(), ev.accepted(at(2)), ev.extended(at(5), at(40))),
    ]


def test_a_missing_deadline_is_never_due_overdue_or_responded(chdb):
    # given the hand-built cases plus the deadline-less ones
    db = project(chdb, hand_built() + no_deadline_cases())
    # when the metrics are computed by department
    got = by_group(metrics(chdb.query, db, "department", P_FROM, P_TO, NOW))["imports"]
    # then N1/N2 are reported and counted, but neither due nor overdue; no task is in the
    # response rate (no accept-by), while all of them count as dispatched (return rate)
    assert {
        k: got[k]
        for k in (
            "reported",
            "closed",
            "due",
            "due_closed",
            "closed_on_time",
            "open_overdue",
            "dispatched",
            "lead_with_accept_by",
            "responded",
            "returned",
        )
    } == {
        "reported": 4,
        "closed": 1,
        "due": 2,
        "due_closed": 0,
        "closed_on_time": 0,
        "open_overdue": 2,
        "dispatched": 4,
        "lead_with_accept_by": 0,
        "responded": 0,
        "returned": 0,
    }
    assert (got["response_rate"], got["return_rate"]) == (None, 0.0)
    assert (got["closure_rate"], got["on_time_rate_open_aware"]) == (0.0, 0.0)
    # and the cases with a deadline keep their figures
    roads = by_group(metrics(chdb.query, db, "department", P_FROM, P_TO, NOW))["roads"]
    assert (roads["lead_with_accept_by"], roads["response_rate"]) == (5, 1 / 5)


def test_a_missing_deadline_agrees_with_the_reference(chdb):
    cases = hand_built() + no_deadline_cases()
    db = project(chdb, cases, flush_every=2)
    flat = [e for events in cases for e in events]
    for dim in ("department", "category", "all"):
        for t_from, t_to in [(P_FROM, P_TO), (None, None)]:
            assert metrics(chdb.query, db, dim, t_from, t_to, NOW) == reference_metrics(
                flat, dim, t_from, t_to, NOW
            )


def test_a_missing_deadline_is_never_overdue_in_the_backlog(chdb):
    db = project(chdb, no_deadline_cases())
    assert backlog(chdb.query, db, "department", NOW) == [
        {"group": "imports", "age_bucket": "1-3d", "overdue": False, "cases": 1},  # N1
        {"group": "imports", "age_bucket": "1-3d", "overdue": True, "cases": 2},  # N3, N4
    ]


def _without_deadlines(cases: list[list[Event]]) -> list[list[Event]]:
    """Every third case's dispatches lose both deadlines, every third only the accept-by."""

    def strip(event: Event) -> Event:
        if event.type != "TaskDispatched" or (n := int(event.case_id.rsplit("-", 1)[-1])) % 3 == 2:
            return event
        gone = {"accept_by": None, "dispose_by": None} if n % 3 == 0 else {"accept_by": None}
        return Event(event.type, {**event.fields, **gone})

    return [[strip(e) for e in events] for events in cases]


@pytest.mark.parametrize("dim", ["department", "category", "all"])
def test_sql_matches_the_reference_when_deadlines_are_missing(chdb, dim):
    # given a generated workload where many tasks were dispatched without deadlines
    cases = _without_deadlines(workload(12, 600))
    db = project(chdb, cases, flush_every=3)
    flat = [e for events in cases for e in events]
    now = datetime(2024, 3, 20, tzinfo=UTC)
    # when computed in SQL and in Python, then they agree for every period
    month = (datetime(2024, 1, 20, tzinfo=UTC), datetime(2024, 2, 20, tzinfo=UTC))
    for t_from, t_to in [(None, None), month]:
        got = metrics(chdb.query, db, dim, t_from, t_to, now)
        assert got == reference_metrics(flat, dim, t_from, t_to, now)
    totals = metrics(chdb.query, db, "all", now=now)[0]
    with_accept_by = totals["lead_with_accept_by"] + totals["assist_with_accept_by"]
    assert 0 < with_accept_by < totals["dispatched"] / 2
    assert 0 < totals["due"] < totals["reported"]
