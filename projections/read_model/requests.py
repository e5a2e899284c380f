"""Open311 service requests as the projections hold them: the lifecycle rows a search finds
(``GET requests``), and which services have any case at all. What a request says (its
description, address, media) is in its ``CaseReported``: ``cases.reports``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from civicloop.projections.store.base import Query
from civicloop.projections.tables.schema import CASE_LIFECYCLE

#: the states in which a request is ``closed``
CLOSED_STATES = ("CLOSED", "VOIDED")
#: what a request is made of, of its lifecycle row
COLUMNS = (
    "case_id",
    "state",
    "category",
    "lead_department",
    "reported_at",
    "updated_at",
    "closed_at",
    "voided_at",
    "due_at",
    "lat",
    "lon",
    "closure_reason",
    "void_reason",
    "duplicate_of",
)


@dataclass(frozen=True)
class Search:
    """A GET requests search: ``ids`` override every other filter (as the spec says)."""

    start: datetime
    end: datetime
    categories: tuple[str, ...] | None = None  # None: every service
    statuses: tuple[str, ...] = ("open", "closed")
    page: int = 1
    page_size: int = 1000
    ids: tuple[str, ...] | None = None


def found(run: Query, db: str, search: Search) -> list[dict[str, Any]]:
    """The lifecycle rows (``COLUMNS``) of the requests ``search`` finds, newest first, one page."""
    where, params = _where(search)
    params |= {"offset": (search.page - 1) * search.page_size, "limit": search.page_size}
    rows = run(
        f"SELECT {', '.join(COLUMNS)} FROM {db}.{CASE_LIFECYCLE} FINAL "
        f"WHERE {' AND '.join(where)} ORDER BY reported_at DESC, case_id "
        "LIMIT %(offset)s, %(limit)s",  # 18.16 reads the offset, count form
        params,
    )
    return [dict(zip(COLUMNS, row, strict=True)) for row in rows]


def categories_with_cases(run: Query, db: str, categories: tuple[str, ...]) -> set[str]:
    """Those of ``categories`` that some projected case has."""
    rows = run(
        f"SELECT DISTINCT category FROM {db}.{CASE_LIFECYCLE} FINAL WHERE category IN %(categories)s",
        {"categories": categories},
    )
    return {str(row[0]) for row in rows}


def _where(search: Search) -> tuple[list[str], dict[str, Any]]:
    if search.ids is not None:
        return ["case_id IN %(ids)s"], {"ids": search.ids}
    where = ["reported_at >= %(start)s", "reported_at <= %(end)s"]
    params: dict[str, Any] = {"start": search.start, "end": search.end, "closed": CLOSED_STATES}
    if search.categories is not None:
        where.append("category IN %(categories)s")
        params["categories"] = search.categories
    if set(search.statuses) == {"open"}:
        where.append("state NOT IN %(closed)s")
    elif set(search.statuses) == {"closed"}:
        where.append("state IN %(closed)s")
    return where, params
