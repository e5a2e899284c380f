"""The console's reads (docs/CONSOLE.md): work queues per role, search, and CSV export.

``GET /api/v1/worklist`` lists cases — a role's queue (``queue=``) or any search (``q``, a case
id or a word of the report: its description, address, attributes; filters category,
department, district, grid, status, channel, reported ``from``/``to``) — sorted by deadline
or age, a page at a time: keyset paging (``after`` is the last row's cursor, ``ORDER BY key,
case_id LIMIT n``), so paging through 100,000 open cases never reads more than a page of
rows out of the store. ``format=csv`` gives the whole list (every page) as CSV, the same rows
in the same order. A department key sees the cases its own department has tasks on, and only
its own queues; intake keys see nothing here. Answers carry an ``ETag`` (the projection's
progress marker, the minute and the question), so a console polling with ``If-None-Match``
gets ``304`` until something new is projected.

The queues, the search and their SQL are the read model's (``projections/read_model/worklist.py``);
this module is their HTTP side: keys and roles, cursors, ETags and CSV.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from civicloop.api import auth
from civicloop.api.backend import Backend, backend
from civicloop.api.errors import bad_request, forbidden
from civicloop.api.keys import ApiKey
from civicloop.api.projected import NothingProjected
from civicloop.api.requests_common import moment
from civicloop.projections.read_model.worklist import CASE_ROW, QUEUES, Listing, Queue, page, suggest
from civicloop.schemas.ids import csv_text

router = APIRouter(prefix="/api/v1", tags=["console"])

#: the largest page; the default page
MAX_PAGE, PAGE = 500, 50
#: rows per store query while a CSV export pages through the whole list
CSV_PAGE = 2000
#: the queues each role works; an analyst reads the case queues (and takes no action)
ROLE_QUEUES = {
    role: [q.name for q in QUEUES.values() if role in q.roles]
    for role in ("dispatcher", "department", "supervisor")
}
ROLE_QUEUES["analyst"] = [q.name for q in QUEUES.values() if not q.tasks]  # to read, not to work
#: columns of a listed row, in the CSV's order: a case row's (a task queue's rows leave out
#: their task's status and dispatch time)
COLUMNS = CASE_ROW
Text = Annotated[str | None, Query(max_length=200)]


def _uncursor(text: str) -> tuple[int, str, str]:
    try:
        key, case_id, task_id = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        if isinstance(key, int) and isinstance(case_id, str) and isinstance(task_id, str):
            return key, case_id, task_id
    except (ValueError, TypeError):
        pass
    raise bad_request(f"after {text[:40]!r} is not a cursor this list gave (take it from `next`)", "after")


def reader(request: Request) -> tuple[Backend, ApiKey]:
    """The caller's key, when its role works in the console (every role but intake)."""
    return backend(request), auth.caller(request, auth.DASHBOARD)


async def etag(api: Backend, key: ApiKey, request: Request, minute: datetime) -> str:
    """What a list's answer depends on: the projection's marker, the minute (the deadlines'
    "now"), the key and the question."""
    marks = await api.progress.marks()
    seen = json.dumps([sorted(marks.items()), minute.isoformat(), key.key_id, str(request.url.query)])
    return '"' + hashlib.sha256(seen.encode()).hexdigest()[:32] + '"'


def unchanged(request: Request, tag: str) -> Response | None:
    if request.headers.get("if-none-match") == tag:
        return Response(status_code=304, headers={"ETag": tag, "Cache-Control": "no-cache"})
    return None


@router.get(
    "/worklist",
    summary="A work queue or a search over the cases, a page at a time (keyset), or all of it as CSV",
    responses={304: {"description": "`If-None-Match` named the list as it still is"}},
)
async def get_worklist(
    request: Request,
    queue: Annotated[
        str | None, Query(description="A queue of the key's role (see `queues` in the answer).")
    ] = None,
    q: Annotated[str | None, Query(max_length=200, description="A case id, or a word of the report.")] = None,
    category: Text = None,
    department: Text = None,
    district: Text = None,
    grid: Text = None,
    status: Text = None,
    channel: Text = None,
    t_from: Annotated[
        str | None, Query(alias="from", max_length=40, description="Reported from (ISO).")
    ] = None,
    t_to: Annotated[
        str | None, Query(alias="to", max_length=40, description="Reported before (ISO).")
    ] = None,
    sort: Annotated[
        str, Query(pattern="^(deadline|age)$", description="deadline (soonest first) or age (oldest first).")
    ] = "deadline",
    after: Annotated[str | None, Query(max_length=600, description="`next` of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = PAGE,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
) -> Response:
    api, key = reader(request)
    now = datetime.now(UTC).replace(microsecond=0)
    chosen = None
    if queue:
        chosen = QUEUES.get(queue)
        if chosen is None or chosen.name not in ROLE_QUEUES.get(key.role, []):
            mine = ", ".join(ROLE_QUEUES.get(key.role, [])) or "none; search instead"
            raise bad_request(
                f"queue {queue!r} is not one of role {key.role}'s queues (they are: {mine})", "queue"
            )
    if key.role == "department":
        if department not in (None, "", key.department):
            raise forbidden(f"this key sees department {key.department!r} only, not {department!r}")
        department = key.department
    given = {"category": category, "district": district, "grid": grid, "status": status, "channel": channel}
    listing = Listing(
        queue=chosen,
        filters={name: value for name, value in given.items() if value},
        text=(q or "").strip() or None,
        department=department or None,
        start=moment(t_from or None, "from"),
        end=moment(t_to or None, "to"),
        sort=sort,
        now=now,
    )
    if format == "csv":
        return _csv(api, listing, chosen)
    tag = await etag(api, key, request, now.replace(second=0))
    if (same := unchanged(request, tag)) is not None:
        return same
    cursor = _uncursor(after) if after else None
    rows, following = await run_in_threadpool(_page, api, listing, limit, cursor)
    body = {
        "role": key.role,
        "department": key.department if key.role == "department" else None,
        "queues": ROLE_QUEUES.get(key.role, []),
        "queue": chosen.name if chosen else None,
        "rows": rows,
        "next": following,
    }
    text = json.dumps(body, ensure_ascii=False, default=_plain)
    return Response(text, media_type="application/json", headers={"ETag": tag, "Cache-Control": "no-cache"})


def _page(
    api: Backend, listing: Listing, limit: int, after: tuple[int, str, str] | None
) -> tuple[list[dict[str, Any]], str | None]:
    p = api.projections
    try:
        rows, following = page(p.query, p.database, listing, limit, after)
        if listing.queue is not None and listing.queue.nearby:
            suggest(p.query, p.database, rows, listing.now)
    except NothingProjected:
        return [], None
    return rows, following


def _csv(api: Backend, listing: Listing, chosen: Queue | None) -> Response:
    def lines() -> Iterator[str]:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        after = None
        while True:
            rows, following = _page(api, Listing(**{**listing.__dict__, "queue": chosen}), CSV_PAGE, after)
            for row in rows:
                writer.writerow([_cell(row.get(column)) for column in COLUMNS])
            yield out.getvalue()
            out.seek(0)
            out.truncate()
            if following is None:
                return
            after = _uncursor(following)

    name = f"civicloop-{chosen.name if chosen else 'cases'}.csv"
    return StreamingResponse(
        iterate_in_threadpool(lines()),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return csv_text(value) if isinstance(value, str) else str(value)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else str(value)
