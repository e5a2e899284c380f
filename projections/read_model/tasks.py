"""The live tasks past a deadline: what the SLA watchdog escalates (``streams/watchdog.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from civicloop.projections.store.base import Query
from civicloop.projections.tables.schema import CASE_TASKS


class LiveTask(NamedTuple):
    case_id: str
    task_id: str
    status: str
    accept_by: datetime | None
    dispose_by: datetime | None


def past_deadline(run: Query, db: str, now: datetime) -> list[LiveTask]:
    """Live tasks (dispatched or accepted) whose dispose-by, or while dispatched whose
    accept-by, is before ``now``."""
    rows = run(
        f"SELECT case_id, task_id, status, accept_by, dispose_by FROM {db}.{CASE_TASKS} FINAL "
        "WHERE status IN ('dispatched', 'accepted') "
        "AND (dispose_by < %(now)s OR (status = 'dispatched' AND accept_by < %(now)s))",
        {"now": now},
    )
    return [LiveTask(*row) for row in rows]
