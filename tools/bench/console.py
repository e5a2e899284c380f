"""``civicloop bench console``: the console's first useful paint over N cases' projections.

The projections are made inside ClickHouse (``synthetic``, as ``bench queries``), with one
``CaseReported`` row per case in the event log whose payload holds a description and an
address (the bytes the console's text search reads; not decodable Avro, which the search never
decodes). The console's routes are served by a real uvicorn server on a loopback port with the
API's own read endpoints (``api/worklist.py``) behind a real key store, and each request is
timed over HTTP (fastest of ``rounds``). First useful paint of a list is the page, its script
and style sheet, and the first page of rows: their sum (a browser loads the script and style
in parallel, so the sum is an upper bound). The ceiling is the store answering the same
query (the read model's ``worklist.page`` straight on the store: no HTTP, no key, no JSON).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from fastapi import FastAPI

from civicloop.api import worklist as worklist_api
from civicloop.api.console.router import create_console_router
from civicloop.api.dashboard.standalone import serving
from civicloop.api.keys import ApiKeyStore
from civicloop.projections.read_model import worklist
from civicloop.projections.store.base import Params, Row, Store
from civicloop.projections.tables import schema
from civicloop.tools.bench import synthetic
from civicloop.tools.bench.fetch import getter
from civicloop.tools.bench.queries import built
from civicloop.tools.bench.report import Figure, Ratio, Result, progress, timed
from civicloop.tools.bench.stores import Backend
from civicloop.tools.local.process import free_port

DEPARTMENT = "department_3"
#: the words a synthetic description is made of, and the one the bench searches for
WORDS = ("pothole", "streetlight", "litter", "noise", "graffiti", "leak", "blocked", "parking")
SEARCHED = "graffiti"


class _Projections:
    def __init__(self, store: Store, database: str) -> None:
        self.store, self.database = store, database

    def query(self, sql: str, params: Params | None = None) -> list[Row]:
        return self.store.query(sql, params)


class _Progress:
    async def marks(self) -> dict[int, int]:
        return {}


def reports(db: str, cases: int) -> str:
    """One CaseReported row per case in the event log, its payload text a description and an
    address made from the case number (as the synthetic projections are)."""
    description = f"{synthetic.pick(WORDS, f'cityHash64(number, 60) % {len(WORDS)}')}"
    return (
        f"INSERT INTO {db}.{schema.EVENT_LOG} (event_id, case_id, type, schema_version, occurred_at, "
        "recorded_at, actor_type, actor_id, source, topic, partition, offset, payload, projected_at) "
        "SELECT concat('e-', toString(number)), concat('case-', toString(number)), 'CaseReported', 1, "
        "now(), now(), 'citizen', 'anonymous', 'bench', 'bench', 0, number, "
        f"concat('reported: ', {description}, ' by the kerb, ', toString(cityHash64(number, 61) % 999), "
        f"' Main Street'), now() FROM numbers({cases})"
    )


def run(cases: int = 1_000_000, backend: Backend = Backend.chdb, rounds: int = 3) -> Result:
    with built("console", backend, cases) as made:
        store, db = made.store, made.db
        keys = ApiKeyStore(made.tmp / "keys.sqlite")
        try:
            store.command(reports(db, cases))
            version = store.server_version()
            department = keys.create(f"department:{DEPARTMENT}", label="bench")[1]
            analyst = keys.create("analyst", label="bench")[1]
            app = FastAPI()
            app.state.backend = SimpleNamespace(
                keys=keys, projections=_Projections(store, db), progress=_Progress()
            )
            app.include_router(worklist_api.router)
            app.include_router(create_console_router())
            with serving(app, free_port()) as base:
                figures, rows = _timed(base, department, analyst, store, db, rounds)
        finally:
            keys.close()
    paint = ("page", "script", "style")
    inbox = sum(figures[k].seconds for k in (*paint, "api_inbox")) * 1000
    search = sum(figures[k].seconds for k in ("search_page", "script", "style", "api_search")) * 1000
    ratios = [
        Ratio(
            "inbox_vs_store",
            "department inbox over HTTP / the store answering it",
            "api_inbox",
            "store_inbox",
        ),
        Ratio("search_vs_store", "search over HTTP / the store answering it", "api_search", "store_search"),
        Ratio(
            "last_page_vs_first", "the inbox's last page (keyset) / its first", "api_inbox_far", "api_inbox"
        ),
    ]
    notes = {
        "store": f"{backend} (ClickHouse {version})",
        "cases": cases,
        "rounds": rounds,
        "first_useful_paint_inbox_ms": round(inbox, 1),
        "first_useful_paint_search_ms": round(search, 1),
        **rows,
    }
    return Result("civicloop bench console", figures, ratios, notes, unit="requests", in_ms=True)


def _timed(
    base: str, department: str, analyst: str, store: Store, db: str, rounds: int
) -> tuple[dict[str, Figure], dict[str, int]]:
    inbox = {"queue": "task_overdue", "limit": "50"}
    search = {"q": SEARCHED, "limit": "50"}
    now = datetime.now(UTC).replace(microsecond=0)
    as_department = worklist.Listing(
        worklist.QUEUES["task_overdue"], {}, None, DEPARTMENT, None, None, "deadline", now
    )
    as_search = worklist.Listing(None, {}, SEARCHED, None, None, None, "deadline", now)
    far, pages = _last_page(base, department, inbox)
    loops: dict[str, tuple[str, Callable[[], object]]] = {
        "page": ("GET /console (the page)", getter(base, "/console", None, {})),
        "search_page": ("GET /console/search (the page)", getter(base, "/console/search", None, {})),
        "script": ("GET console.js", getter(base, "/console/static/console.js", None, {})),
        "style": ("GET console.css", getter(base, "/console/static/console.css", None, {})),
        "api_inbox": (
            f"GET worklist: {DEPARTMENT}'s overdue tasks, first 50",
            getter(base, "/api/v1/worklist", department, inbox),
        ),
        "api_inbox_far": (
            f"GET worklist: the same, its last page ({pages}, keyset cursor)",
            getter(base, "/api/v1/worklist", department, {**inbox, "after": far}),
        ),
        "api_search": (
            f"GET worklist: search {SEARCHED!r} in every report, first 50",
            getter(base, "/api/v1/worklist", analyst, search),
        ),
        "api_csv": (
            f"GET worklist CSV: {DEPARTMENT}'s overdue tasks, all",
            getter(base, "/api/v1/worklist", department, {**inbox, "format": "csv"}),
        ),
        "store_inbox": (
            "the inbox's first page straight from the store (ceiling)",
            lambda: worklist.page(store.query, db, as_department, 50, None),
        ),
        "store_search": (
            "the search's first page straight from the store (ceiling)",
            lambda: worklist.page(store.query, db, as_search, 50, None),
        ),
    }
    for _, loop in loops.values():  # one untimed pass: warms caches, fails early on an error
        loop()
    overdue = store.query(
        f"SELECT count() FROM {db}.{schema.CASE_TASKS} FINAL WHERE department = %(d)s "
        "AND status IN ('dispatched', 'accepted') AND dispose_by < now()",
        {"d": DEPARTMENT},
    )[0][0]
    with progress() as bar:
        bar.add_task(f"timing {len(loops)} requests, best of {rounds}", total=None)
        found = timed(1, loops, rounds)
    shown = {
        name: len(json.loads(getter(base, "/api/v1/worklist", key, params)())["rows"])
        for name, key, params in (("api_inbox", department, inbox), ("api_search", analyst, search))
    }
    return found, {
        "department_overdue_tasks": int(overdue),
        "inbox_pages": pages,
        "inbox_first_page_rows": shown["api_inbox"],
        "search_first_page_rows": shown["api_search"],
    }


def _last_page(base: str, key: str, params: dict[str, str]) -> tuple[str, int]:
    """The cursor of the list's last page, and how many pages it has (by paging there)."""
    cursor, pages = "", 1
    while True:
        answer: dict[str, Any] = json.loads(
            getter(base, "/api/v1/worklist", key, {**params, **({"after": cursor} if cursor else {})})()
        )
        if answer["next"] is None:
            return cursor, pages
        cursor, pages = answer["next"], pages + 1
