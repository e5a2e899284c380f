"""The worker's HTTP views: health and figures, and read-only SQL for chDB deployments.

chDB lets one process hold a data directory, and the running worker is that process; so
operators' and analysts' commands (``civicloop metrics``, ``status``) read through it.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import datetime
from typing import Any

import faust
from faust.web import Request, Response, View

from civicloop.streams.replayer import ReplayStatus
from civicloop.streams.worker_state import WorkerState

READ_ONLY_PREFIXES = ("SELECT", "WITH", "SHOW", "DESCRIBE", "EXISTS")


def register_views(app: faust.App, state: WorkerState) -> None:
    @app.page("/civicloop/health")
    class Health(View):
        async def get(self, request: Request) -> Response:
            return self.json(state.health())

    @app.page("/civicloop/replay")
    class Replay(View):
        async def get(self, request: Request) -> Response:
            replay = state.replay
            return self.json(_status(replay.status) if replay else {"phase": "none"})

        async def post(self, request: Request) -> Response:
            body = await request.json()  # type: ignore[attr-defined]
            since = datetime.fromisoformat(body["since"]) if body.get("since") else None
            return self.json(_status(state.start_replay(since, bool(body.get("keep_old")))))

    @app.page("/civicloop/sql")
    class Sql(View):
        async def post(self, request: Request) -> Response:
            body = await request.json()  # type: ignore[attr-defined]
            sql = str(body.get("sql", "")).strip()
            if not sql.upper().startswith(READ_ONLY_PREFIXES):
                return self.json(
                    {"error": "only read-only statements (SELECT, WITH, SHOW, DESCRIBE, EXISTS) are served"},
                    status=400,
                )
            try:
                rows = await asyncio.get_running_loop().run_in_executor(None, state.store.query, sql)
            except Exception as exc:
                return self.json({"error": str(exc)}, status=400)
            return self.json({"rows": [[_jsonable(v) for v in row] for row in rows]})


def _status(status: ReplayStatus) -> dict[str, Any]:
    return {**asdict(status), "rate": status.rate}


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value
