"""Case-level reads: where the cases are (the dashboard's map), the values the filters offer,
one case with its timeline from the event log, a case's folded state, the reports of cases
(their ``CaseReported``) and the signals that name a case's places.

The map and the choices read the same rows and filters as the metric queries
(``Scope``); no figure is computed here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from civicloop.projections.fold.casestate import CaseState
from civicloop.projections.metrics import rollup
from civicloop.projections.metrics import sql as q
from civicloop.projections.metrics.scope import WHOLE, Scope
from civicloop.projections.state_store import read_known
from civicloop.projections.store.base import Query
from civicloop.projections.tables import lifecycle
from civicloop.projections.tables.schema import CASE_LIFECYCLE, CASE_STATE, CASE_TASKS, EVENT_LOG, SIGNALS
from civicloop.schemas.codec import decode
from civicloop.schemas.event import Event
from civicloop.schemas.events import event_to_json

#: at most this many cases on the map (a sample, the same every time: by hash of the case id)
POINTS = 5000
#: the dimensions a filter offers, with the column holding their values
CHOICES = {
    "department": "lead_department",
    "category": "category",
    "district": "district",
    "channel": "channel",
}
#: what a case page shows of its lifecycle row: every column but the task count (the page
#: lists the tasks) and the working-seconds durations (figures, not facts of the case)
LIFECYCLE = tuple(n for n in lifecycle.LIFECYCLE.names if n != "tasks" and not n.endswith("_ws"))
#: ... and of each task row: the task's own columns (not the case's, which each task row
#: repeats for the metrics), without durations and row versions
TASKS = tuple(
    n
    for n in lifecycle.TASKS.names
    if n not in ("case_id", *lifecycle.CASE_DIMENSIONS, "version", "updated_at") and not n.endswith("_ws")
)
#: fields of an event that the timeline never shows (the reporter's sealed contact)
PRIVATE = ("contact_ciphertext", "contact_key_id")


def points(
    run: Query, db: str, t_from: datetime, t_to: datetime, scope: Scope = WHOLE, limit: int = POINTS
) -> dict[str, Any]:
    """Cases reported in [t_from, t_to) with a location: ``total`` and up to ``limit`` of them
    (case_id, lat, lon, state), a sample that stays the same from one call to the next."""
    source = q.source(scope, db, CASE_LIFECYCLE, ())
    where = f"{q.within('reported_at', t_from, t_to)} AND lat IS NOT NULL AND lon IS NOT NULL"
    params = {**(scope.params() or {}), "limit": limit}
    rows = run(
        f"SELECT case_id, lat, lon, state FROM {source} WHERE {where} "
        "ORDER BY cityHash64(case_id), case_id LIMIT %(limit)s",
        params,
    )
    total = run(f"SELECT count() FROM {source} WHERE {where}", scope.params())
    return {
        "total": int(total[0][0]) if total else 0,
        "cases": [
            {"case_id": cid, "lat": float(lat), "lon": float(lon), "state": state}
            for cid, lat, lon, state in rows
        ],
    }


def choices(run: Query, db: str) -> dict[str, list[str]]:
    """The values each filter can take: every value the tables hold, sorted (departments
    include those tasked without leading). Read without ``FINAL``: a value only an older row
    version had (a case re-categorised at registration) may be offered too, and simply
    filters to the cases that have it now, which is cheaper than merging every row. Where the
    database keeps a rollup, the values of the rows as they are now: the months counted there
    from it, the others from the tables (``rollup.values``)."""
    if rollup.available(run, db):
        return {dim: sorted(seen) for dim, seen in rollup.values(run, db, CHOICES).items()}
    columns = ", ".join(f"groupUniqArray({column})" for column in CHOICES.values())
    (found,) = run(f"SELECT {columns} FROM {db}.{CASE_LIFECYCLE}") or [([],) * len(CHOICES)]
    values = {dim: {str(v) for v in seen if v} for dim, seen in zip(CHOICES, found, strict=True)}
    tasked = run(f"SELECT groupUniqArray(department) FROM {db}.{CASE_TASKS}")
    values["department"] |= {str(v) for v in (tasked[0][0] if tasked else ()) if v}
    return {dim: sorted(seen) for dim, seen in values.items()}


def case(run: Query, db: str, case_id: str) -> dict[str, Any] | None:
    """One case: its lifecycle row, its tasks, and its timeline (every event of the case from
    the event log, in the order they occurred — within a second, in the log's order — without
    the reporter's sealed contact)."""
    found = case_with_events(run, db, case_id)
    return None if found is None else found[0]


def case_with_events(run: Query, db: str, case_id: str) -> tuple[dict[str, Any], list[Event]] | None:
    """``case``, and the decoded events of its timeline (for what only some callers may see:
    the API unseals the reporter's contact from the report for a role allowed to call back)."""
    rows = run(
        f"SELECT {', '.join(LIFECYCLE)} FROM {db}.{CASE_LIFECYCLE} FINAL WHERE case_id = %(id)s",
        {"id": case_id},
    )
    if not rows:
        return None
    tasks = run(
        f"SELECT {', '.join(TASKS)} FROM {db}.{CASE_TASKS} FINAL WHERE case_id = %(id)s "
        "ORDER BY dispatched_at, task_id",
        {"id": case_id},
    )
    log = run(
        # times are whole seconds: within one, the log's order (the fold's; a case's events
        # share a partition), never the random event ids
        f"SELECT hex(payload) FROM {db}.{EVENT_LOG} FINAL WHERE case_id = %(id)s "
        "ORDER BY occurred_at, partition, offset, event_id",
        {"id": case_id},
    )
    events = [decode(bytes.fromhex(str(hexed))) for (hexed,) in log]
    found = dict(zip(LIFECYCLE, rows[0], strict=True))
    found["tasks"] = [dict(zip(TASKS, task, strict=True)) for task in tasks]
    found["timeline"] = [_public(event_to_json(event)) for event in events]
    return found, events


def folded(run: Query, db: str, case_id: str) -> CaseState | None:
    """The case's folded state as the worker stored it (``case_state``), or None."""
    known = read_known(run, f"{db}.{CASE_STATE}", [case_id]).get(case_id)
    return known.state if known else None


def reports(run: Query, db: str, case_ids: Sequence[str]) -> dict[str, Event]:
    """Each case's ``CaseReported``, decoded from the event log (payload as hex: it is
    binary), for those of ``case_ids`` that have one."""
    if not case_ids:
        return {}
    rows = run(
        f"SELECT case_id, hex(payload) FROM {db}.{EVENT_LOG} FINAL "
        "WHERE case_id IN %(ids)s AND type = 'CaseReported'",
        {"ids": tuple(case_ids)},
    )
    return {str(case_id): decode(bytes.fromhex(str(payload))) for case_id, payload in rows}


#: what a signal near a case shows, and how many at most (the latest first)
SIGNAL_COLUMNS = ("occurred_at", "type", "level", "category", "place", "observed", "threshold")
SIGNALS_SHOWN = 20


def signals_at(run: Query, db: str, places: Sequence[str]) -> list[dict[str, Any]]:
    """The latest signals (surges, recurring problems) that name one of ``places``."""
    if not places:
        return []
    rows = run(
        f"SELECT {', '.join(SIGNAL_COLUMNS)} FROM {db}.{SIGNALS} FINAL WHERE place IN %(places)s "
        "ORDER BY occurred_at DESC, event_id LIMIT %(limit)s",
        {"places": tuple(places), "limit": SIGNALS_SHOWN},
    )
    return [dict(zip(SIGNAL_COLUMNS, row, strict=True)) for row in rows]


def reports_counted(run: Query, db: str, like: str) -> list[tuple[str, str, int]]:
    """(category, channel, cases) of the cases whose id is ``LIKE like``, most first."""
    rows = run(
        f"SELECT category, channel, count() AS n FROM {db}.{CASE_LIFECYCLE} FINAL "
        "WHERE case_id LIKE %(like)s GROUP BY category, channel ORDER BY n DESC, category, channel",
        {"like": like},
    )
    return [(str(category), str(channel), int(n)) for category, channel, n in rows]


def _public(event: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in event.items() if name not in PRIVATE}
