"""Where events went: into the event log, or among the dead letters (what the API answers
about an accepted write), and which of some event ids the log holds (the SLA watchdog's
escalations already made)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from civicloop.projections.store.base import Query
from civicloop.projections.tables.schema import DEAD_LETTERS, EVENT_LOG


class Logged(NamedTuple):
    """Where an event was read from, as the event log has it."""

    case_id: str
    type: str
    partition: int
    offset: int


class Dead(NamedTuple):
    """A dead letter: where the message was read, and why the worker refused it."""

    case_id: str
    event_type: str
    partition: int
    offset: int
    reason: str
    detail: str


_DEAD = "case_id, event_type, partition, offset, reason, detail"


def logged(run: Query, db: str, topic: str, event_id: str, case_id: str | None = None) -> Logged | None:
    """The event log's row of ``event_id`` read from ``topic`` (of ``case_id`` when given; the
    earliest offset when it was read twice), or None."""
    rows = run(
        f"SELECT case_id, type, partition, offset FROM {db}.{EVENT_LOG} "
        f"WHERE event_id = %(event_id)s{_of_case(case_id)} AND topic = %(topic)s ORDER BY offset LIMIT 1",
        {"event_id": event_id, "case_id": case_id or "", "topic": topic},
    )
    return Logged(str(rows[0][0]), str(rows[0][1]), int(rows[0][2]), int(rows[0][3])) if rows else None


def dead_letter_of(run: Query, db: str, topic: str, event_id: str, case_id: str | None = None) -> Dead | None:
    """The latest dead letter of ``event_id`` read from ``topic`` (of ``case_id`` when given)."""
    rows = run(
        f"SELECT {_DEAD} FROM {db}.{DEAD_LETTERS} "
        f"WHERE event_id = %(event_id)s{_of_case(case_id)} AND topic = %(topic)s "
        "ORDER BY offset DESC LIMIT 1",
        {"event_id": event_id, "case_id": case_id or "", "topic": topic},
    )
    return _dead(rows[0]) if rows else None


def dead_letter_at(run: Query, db: str, topic: str, partition: int | None, offset: int | None) -> Dead | None:
    """The dead letter of the message at ``topic``/``partition``/``offset``, or None."""
    rows = run(
        f"SELECT {_DEAD} FROM {db}.{DEAD_LETTERS} "
        "WHERE topic = %(topic)s AND partition = %(partition)s AND offset = %(offset)s LIMIT 1",
        {"topic": topic, "partition": partition, "offset": offset},
    )
    return _dead(rows[0]) if rows else None


def logged_ids(run: Query, db: str, event_type: str, event_ids: Sequence[str]) -> set[str]:
    """Those of ``event_ids`` (events of ``event_type``) that the event log holds."""
    if not event_ids:
        return set()
    rows = run(
        f"SELECT event_id FROM {db}.{EVENT_LOG} WHERE type = %(type)s AND event_id IN %(ids)s",
        {"type": event_type, "ids": tuple(event_ids)},
    )
    return {str(event_id) for (event_id,) in rows}


def _of_case(case_id: str | None) -> str:
    return " AND case_id = %(case_id)s" if case_id else ""


def _dead(row: tuple[object, ...]) -> Dead:
    cid, kind, partition, offset, reason, detail = row
    return Dead(str(cid), str(kind), int(str(partition)), int(str(offset)), str(reason), str(detail))
