"""The console's reads (docs/CONSOLE.md): work queues per role and search, a page at a time.

A list is a queue (``QUEUES``: cases, or one department's tasks) or a search (a case id or a
word of the report, and filters), sorted by deadline or age, read with keyset paging (``after``
is the last row's (key, case id, task id), ``ORDER BY key, case_id LIMIT n``), so paging through
100,000 open cases never reads more than a page of rows out of the store. Every value given
reaches SQL as a bound parameter (``%(name)s``, ``store/base.bind``); the SQL runs on chDB and
on ClickHouse 18.16 alike (no tuple comparison, no ``LIKE`` patterns:
``positionCaseInsensitiveUTF8`` on the report).
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from civicloop.projections.metrics import sql as q
from civicloop.projections.read_model.nearby import LIMIT as NEARBY_LIMIT
from civicloop.projections.read_model.nearby import M_PER_DEG_LAT, RADIUS_M
from civicloop.projections.store.base import Query
from civicloop.projections.tables.schema import CASE_LIFECYCLE, CASE_TASKS, EVENT_LOG

#: a deadline that is not set sorts after every real one
NO_DEADLINE = 4294967295
OPEN_STATES = (
    "REPORTED",
    "REGISTERED",
    "DISPATCHED",
    "IN_PROGRESS",
    "RETURNED",
    "DISPOSED",
    "CHECKED",
    "REOPENED",
)
LIVE_TASK = ("dispatched", "accepted")


@dataclass(frozen=True)
class Queue:
    """A work queue: the roles that see it, what it reads (cases or one department's tasks),
    its condition, what ``sort=deadline`` orders it by (the deadline that matters there, or the
    report's time where nothing is due yet), and whether rows carry duplicate suggestions.
    A row's ``deadline`` is the case's (``due_at``), or for a task row the task's: ``accept_by``
    while it waits to be accepted, ``dispose_by`` after."""

    name: str
    roles: tuple[str, ...]
    tasks: bool
    where: str
    deadline: str
    nearby: bool = False


_OPEN = "state IN %(open_states)s"
QUEUES: dict[str, Queue] = {
    q.name: q
    for q in (
        Queue("to_register", ("dispatcher", "supervisor"), False, "state = 'REPORTED'", "reported_at", True),
        Queue(
            "to_dispatch",
            ("dispatcher", "supervisor"),
            False,
            "state IN ('REGISTERED', 'RETURNED', 'REOPENED')",
            "reported_at",
        ),
        Queue("to_accept", ("department",), True, "status = 'dispatched'", "accept_by"),
        Queue("in_progress", ("department",), True, "status = 'accepted'", "dispose_by"),
        Queue(
            "due_soon",
            ("department",),
            True,
            "status IN %(live)s AND dispose_by >= %(now)s AND dispose_by < %(day)s",
            "dispose_by",
        ),
        Queue(
            "task_overdue", ("department",), True, "status IN %(live)s AND dispose_by < %(now)s", "dispose_by"
        ),
        Queue("returned", ("department",), True, "status = 'returned'", "returned_at"),
        Queue("to_check", ("supervisor",), False, "state = 'DISPOSED'", "due_at"),
        Queue("overdue", ("supervisor", "dispatcher"), False, f"{_OPEN} AND due_at < %(now)s", "due_at"),
        Queue("escalated", ("supervisor",), False, f"{_OPEN} AND escalations > 0", "due_at"),
        Queue("reopened", ("supervisor", "dispatcher"), False, "state = 'REOPENED'", "reported_at"),
        Queue("to_close", ("supervisor", "dispatcher"), False, "state = 'CHECKED'", "due_at"),
    )
}
#: a page's row of a case list (name → what case_lifecycle gives for it), after the sort key
CASE_SELECTED: tuple[tuple[str, str], ...] = (
    ("case_id", "case_id"),
    ("task_id", "''"),
    ("department", "lead_department"),
    ("state", "state"),
    ("category", "category"),
    ("priority", "priority"),
    ("channel", "channel"),
    ("district", "district"),
    ("grid_id", "grid_id"),
    ("reported_at", "reported_at"),
    ("deadline", "due_at"),
    ("lat", "lat"),
    ("lon", "lon"),
)
CASE_ROW = tuple(name for name, _ in CASE_SELECTED)
#: ... and of a task queue (from case_tasks); its case's facts are read after, for the page's
#: cases only (``_case_facts``)
TASK_SELECTED: tuple[tuple[str, str], ...] = (
    ("case_id", "case_id"),
    ("task_id", "task_id"),
    ("department", "department"),
    ("task_status", "status"),
    ("category", "category"),
    ("priority", "priority"),
    ("channel", "channel"),
    ("district", "district"),
    ("grid_id", "grid_id"),
    ("dispatched_at", "dispatched_at"),
    ("deadline", "if(status = 'dispatched', accept_by, dispose_by)"),
)
CASE_FACTS = ("state", "reported_at", "lat", "lon")
#: a task row's fields, in the order the page gives them
TASK_ROW = (
    "case_id",
    "task_id",
    "department",
    "task_status",
    "state",
    "category",
    "priority",
    "channel",
    "district",
    "grid_id",
    "reported_at",
    "dispatched_at",
    "deadline",
    "lat",
    "lon",
)
#: the search's filters: parameter → the column it matches in case_lifecycle
FILTERS = {
    "category": "category",
    "district": "district",
    "grid": "grid_id",
    "status": "state",
    "channel": "channel",
}


@dataclass(frozen=True)
class Listing:
    """What one list asks: a queue or a search, its filters, sort and page."""

    queue: Queue | None
    filters: dict[str, str]
    text: str | None
    department: str | None  # the department's cases only (a department key: always its own)
    start: datetime | None
    end: datetime | None
    sort: str
    now: datetime

    def key_column(self) -> str:
        """The sort key as one UInt32 (a missing deadline last)."""
        if self.sort == "age":
            return (
                "toUInt32(reported_at)"
                if self.queue is None or not self.queue.tasks
                else "toUInt32(dispatched_at)"
            )
        column = self.queue.deadline if self.queue else "due_at"
        return f"ifNull(toUInt32({column}), {NO_DEADLINE})"


def cursor(key: int, case_id: str, task_id: str) -> str:
    """The opaque text of a page's last position (what ``after`` gives back, decoded)."""
    return base64.urlsafe_b64encode(json.dumps([key, case_id, task_id]).encode()).decode().rstrip("=")


def _where(listing: Listing, params: dict[str, Any], tasks: bool) -> list[str]:
    """The conditions of the list, on case_lifecycle (or case_tasks for a task queue)."""
    where = []
    for name, value in listing.filters.items():
        if tasks and name == "status":  # a task queue is its tasks' status already
            continue
        params[name] = value
        where.append(f"{FILTERS[name]} = %({name})s")
    if listing.start is not None:
        params["start"] = listing.start
        where.append(f"{'dispatched_at' if tasks else 'reported_at'} >= %(start)s")
    if listing.end is not None:
        params["end"] = listing.end
        where.append(f"{'dispatched_at' if tasks else 'reported_at'} < %(end)s")
    if listing.text:
        params["text"] = listing.text
        where.append(
            f"(case_id = %(text)s OR case_id IN (SELECT case_id FROM {{db}}.{EVENT_LOG} "
            "WHERE type = 'CaseReported' AND positionCaseInsensitiveUTF8(payload, %(text)s) > 0))"
        )
    if listing.department:
        params["department"] = listing.department
        where.append(
            "department = %(department)s"
            if tasks
            else f"case_id IN (SELECT case_id FROM {{db}}.{CASE_TASKS} WHERE department = %(department)s)"
        )
    if listing.queue is not None:
        where.append(listing.queue.where)
    return where


def page(
    query: Query, db: str, listing: Listing, limit: int, after: tuple[int, str, str] | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the list after ``after``, and the cursor of the next page (None: the last)."""
    tasks = listing.queue is not None and listing.queue.tasks
    params: dict[str, Any] = {
        "open_states": OPEN_STATES,
        "live": LIVE_TASK,
        "now": listing.now,
        "day": listing.now + timedelta(days=1),
        "limit": limit + 1,
    }
    where = _where(listing, params, tasks)
    key = listing.key_column()
    if after is not None:
        params["after_key"], params["after_case"], params["after_task"] = after
        tie = "(case_id > %(after_case)s OR (case_id = %(after_case)s AND task_id > %(after_task)s))"
        where.append(
            f"({key} > %(after_key)s OR ({key} = %(after_key)s AND "
            + (tie if tasks else "case_id > %(after_case)s")
            + "))"
        )
    condition = (" AND ".join(where) or "1").replace("{db}", db)
    selected, table, order = (
        (TASK_SELECTED, CASE_TASKS, "k, case_id, task_id")
        if tasks
        else (CASE_SELECTED, CASE_LIFECYCLE, "k, case_id")
    )
    statement = q.select(
        (("k", key), *selected), f"{db}.{table} FINAL", f"ORDER BY {order} LIMIT %(limit)s", condition
    )
    rows = q.named(query, statement, params)
    more = len(rows) > limit
    rows = rows[:limit]
    fields = TASK_ROW if tasks else CASE_ROW
    found = [{name: row.get(name) for name in fields} for row in rows]
    if tasks and found:
        _case_facts(query, db, found)
    last = rows[-1] if rows else None
    following = (
        cursor(int(last["k"]), str(last["case_id"]), str(last["task_id"]))
        if more and last is not None
        else None
    )
    return found, following


def _case_facts(query: Query, db: str, rows: list[dict[str, Any]]) -> None:
    """A task row's case state, report time and place (``CASE_FACTS``), read for the page's
    cases only; a case not projected yet has none."""
    facts = q.select(
        [(name, name) for name in ("case_id", *CASE_FACTS)],
        f"{db}.{CASE_LIFECYCLE} FINAL",
        "",
        "case_id IN %(ids)s",
    )
    found = {
        row["case_id"]: row for row in q.named(query, facts, {"ids": sorted({r["case_id"] for r in rows})})
    }
    unknown = {name: None for name in CASE_FACTS} | {"state": ""}
    for row in rows:
        case = found.get(row["case_id"], unknown)
        row.update({name: case[name] for name in CASE_FACTS})


def suggest(query: Query, db: str, rows: list[dict[str, Any]], now: datetime) -> None:
    """Duplicate suggestions beside each report waiting to be registered: what ``nearby`` gives
    (open cases of its category within ``RADIUS_M``, nearest first, at most ``LIMIT``), for the
    whole page in one query — one ``FINAL`` read of the table, not one per row."""
    placed = [row for row in rows if row["lat"] is not None and row["lon"] is not None]
    for row in rows:
        row["nearby"] = []
    if not placed:
        return
    params: dict[str, Any] = {
        "now": now,
        "radius": RADIUS_M,
        "categories": sorted({r["category"] for r in placed}),
    }
    points, boxes = [], []
    for n, row in enumerate(placed):
        lat, lon = float(row["lat"]), float(row["lon"])
        dlat = RADIUS_M / M_PER_DEG_LAT
        dlon = RADIUS_M / (M_PER_DEG_LAT * max(math.cos(math.radians(lat)), 0.01))
        params[f"p{n}"] = (row["case_id"], row["category"], lat, lon)
        params.update(
            {f"la{n}": lat - dlat, f"lb{n}": lat + dlat, f"oa{n}": lon - dlon, f"ob{n}": lon + dlon}
        )
        points.append(f"%(p{n})s")
        boxes.append(f"(lat BETWEEN %(la{n})s AND %(lb{n})s AND lon BETWEEN %(oa{n})s AND %(ob{n})s)")
    near = (
        "SELECT arrayJoin([" + ", ".join(points) + "]) AS p, case_id, state, category, "
        "greatCircleDistance(assumeNotNull(lon), assumeNotNull(lat), tupleElement(p, 4), tupleElement(p, 3)) "
        "AS distance FROM ("
        f"SELECT case_id, state, category, lat, lon FROM {db}.{CASE_LIFECYCLE} FINAL "
        "WHERE category IN %(categories)s AND reported_at <= %(now)s "
        "AND (isNull(closed_at) OR closed_at > %(now)s) AND (isNull(voided_at) OR voided_at > %(now)s) "
        "AND isNotNull(lat) AND isNotNull(lon) AND (" + " OR ".join(boxes) + "))"
    )
    found = q.select(
        (
            ("for_case", "tupleElement(p, 1)"),
            ("case_id", "case_id"),
            ("state", "state"),
            ("distance", "distance"),
        ),
        f"({near})",
        "ORDER BY for_case, distance, case_id",
        "category = tupleElement(p, 2) AND case_id != tupleElement(p, 1) AND distance <= %(radius)s",
    )
    by_case = {row["case_id"]: row for row in placed}
    for near_case in q.named(query, found, params):
        suggestions = by_case[near_case["for_case"]]["nearby"]
        if len(suggestions) < NEARBY_LIMIT:
            distance = round(float(near_case["distance"]), 1)
            suggestions.append(
                {"case_id": near_case["case_id"], "distance_m": distance, "state": near_case["state"]}
            )
