"""``civicloop bench dashboard``: the dashboard's page and JSON API over N cases' projections.

The projections are made inside ClickHouse (``synthetic``, as ``bench queries``), the
dashboard is served by a real uvicorn server on a loopback port, and each request a page load
makes is timed over HTTP (fastest of ``rounds``): the page, its scripts, and every JSON
figure for one month, without and with a department filter. A page load's total is the sum
of its requests (the browser sends the JSON requests together, but one chDB store answers
them one at a time). The ceiling is the store answering the same month's metrics directly
(no HTTP, no JSON, no chart) and reading the table at all (a plain ``GROUP BY``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from civicloop.api.dashboard.standalone import create_app, require_key, serving
from civicloop.projections.metrics.closed_loop import metrics
from civicloop.projections.store.base import Params, Row, Store
from civicloop.projections.tables import schema
from civicloop.tools.bench.fetch import getter
from civicloop.tools.bench.queries import MONTH, built
from civicloop.tools.bench.report import Figure, Ratio, Result, progress, timed
from civicloop.tools.bench.stores import Backend
from civicloop.tools.local.process import free_port

#: the JSON figures one dashboard load asks for, besides ``choices``
FIGURES = ("headline", "trend", "backlog", "league", "problems", "places", "signals")
CEILING = "store_metrics_month"


class _Projections:
    """The store as the dashboard reads it (chDB serialises its own queries)."""

    def __init__(self, store: Store, database: str) -> None:
        self.store, self.database = store, database

    def query(self, sql: str, params: Params | None = None) -> list[Row]:
        return self.store.query(sql, params)


def run(
    cases: int = 1_000_000,
    backend: Backend = Backend.chdb,
    rounds: int = 3,
    merged: bool = False,
    years: int = 1,
    keep: Path | None = None,
) -> Result:
    key = secrets.token_urlsafe(24)
    with built("dashboard", backend, cases, merged, years, keep) as made:
        store, db = made.store, made.db
        version = store.server_version()
        app = create_app(lambda request: _Projections(store, db), require_key(key))
        with serving(app, free_port()) as base:
            figures = _timed(base, key, store, db, rounds)
    page = sum(figures[k].seconds for k in _page_keys(filtered=False)) * 1000
    filtered = sum(figures[k].seconds for k in _page_keys(filtered=True)) * 1000
    ratios = [
        Ratio(f"{k}_vs_store", f"{figures[k].label} / metrics straight from the store", k, CEILING)
        for k in ("api_headline", "api_league", "api_trend")
    ]
    notes = {
        "store": f"{backend} (ClickHouse {version})",
        "cases": cases,
        "rounds": rounds,
        "years": years,
        "parts": "merged (OPTIMIZE … FINAL)" if merged else "as inserted",
        "period": f"{MONTH[0].date()} to {MONTH[1].date()} (trend by day)",
        "page_load_total_ms": round(page, 1),
        "page_load_total_filtered_ms": round(filtered, 1),
    }
    return Result("civicloop bench dashboard", figures, ratios, notes, unit="requests", in_ms=True)


def _page_keys(filtered: bool) -> list[str]:
    suffix = "_filtered" if filtered else ""
    return ["page", "plotly_js", "api_choices", *(f"api_{name}{suffix}" for name in FIGURES)]


def _timed(base: str, key: str, store: Store, db: str, rounds: int) -> dict[str, Figure]:
    month = {"from": MONTH[0].date().isoformat(), "to": MONTH[1].date().isoformat()}
    department = store.query(f"SELECT any(lead_department) FROM {db}.{schema.CASE_LIFECYCLE}")[0][0]
    case_id = store.query(f"SELECT any(case_id) FROM {db}.{schema.CASE_LIFECYCLE}")[0][0]
    loops: dict[str, tuple[str, Callable[[], object]]] = {
        "page": ("GET /dashboard (the page)", getter(base, "/dashboard", None, {})),
        "plotly_js": (
            "GET plotly.min.js (4.8 MB)",
            getter(base, "/dashboard/static/plotly.min.js", None, {}),
        ),
        "api_choices": ("GET api/choices (filter values)", getter(base, "/dashboard/api/choices", key, {})),
        "api_case": (
            "GET api/cases/{id} (one case)",
            getter(base, f"/dashboard/api/cases/{case_id}", key, {}),
        ),
    }
    for name in FIGURES:
        loops[f"api_{name}"] = (f"GET api/{name}", getter(base, f"/dashboard/api/{name}", key, month))
    for name in FIGURES:
        loops[f"api_{name}_filtered"] = (
            f"GET api/{name}, one department",
            getter(base, f"/dashboard/api/{name}", key, {**month, "department": department}),
        )
    loops[CEILING] = (
        "metrics by all, one month, straight from the store (ceiling)",
        lambda: metrics(store.query, db, "all", MONTH[0], MONTH[1], datetime.now(UTC)),
    )
    loops["plain_group_by"] = (
        "plain GROUP BY lead_department, no FINAL (ceiling)",
        lambda: store.query(f"SELECT lead_department, count() FROM {db}.{schema.CASE_LIFECYCLE} GROUP BY 1"),
    )
    for _, loop in loops.values():  # one untimed pass: warms caches, fails early on an error
        loop()
    with progress() as bar:
        bar.add_task(f"timing {len(loops)} requests, best of {rounds}", total=None)
        return timed(1, loops, rounds)
