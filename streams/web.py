"""The worker's HTTP views: health and figures, and read-only SQL for chDB deployments.

chDB lets one process hold a data directory, and the running worker is that process; so
operators' and analysts' commands (``civicloop metrics``, ``status``) read through it. The SQL
view runs whatever it is sent as SQL written outside civicloop: ``Store.query_readonly``, under
ClickHouse's own read-only enforcement (docs/TRUST.md §4), on a session of its own. A body
that is not what the view expects gets 400, a refused statement 403, a store that cannot
answer 503 — never a 500, and never an exception into the worker. The SQL and replay views
need the worker's local token (civicloop/localauth.py); health needs none and shows no data.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

import faust
from faust.web import Request, Response, View

from civicloop import localauth, log
from civicloop.projections.store.readonly import QueryFailed, Refused
from civicloop.streams.replayer import ReplayStatus
from civicloop.streams.worker_state import WorkerState

_log = log.get(__name__)
#: the largest SQL text the view accepts (ClickHouse's own max_query_size is 256 KiB)
MAX_SQL_BYTES = 256 * 1024


class BadRequest(ValueError):
    """A request body the view cannot use; the message says what it expects."""


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
            if not _authorised(request, state):
                return self.json(_UNAUTHORISED, status=401)
            try:
                body = await _body(request)
                since = _since(body.get("since"))
            except BadRequest as exc:
                return self.json({"error": str(exc)}, status=400)
            return self.json(_status(state.start_replay(since, bool(body.get("keep_old")))))

    @app.page("/civicloop/sql")
    class Sql(View):
        async def post(self, request: Request) -> Response:
            if not _authorised(request, state):
                return self.json(_UNAUTHORISED, status=401)
            try:
                sql = _sql(await _body(request))
            except BadRequest as exc:
                return self.json({"error": str(exc), "kind": "bad_request"}, status=400)
            loop = asyncio.get_running_loop()
            try:
                rows = await loop.run_in_executor(None, state.store.query_readonly, sql)
            except Refused as exc:
                _log.warning("sql_refused", error=str(exc)[:300], sql=sql[:300])
                return self.json({"error": str(exc), "kind": "refused"}, status=403)
            except QueryFailed as exc:
                _log.info("sql_failed", error=str(exc)[:300])
                return self.json({"error": str(exc), "kind": "failed"}, status=400)
            except Exception as exc:  # the store itself failed; the worker goes on
                _log.error("sql_store_failed", error=repr(exc)[:300])
                return self.json(
                    {"error": f"the store could not answer: {exc!r}", "kind": "failed"}, status=503
                )
            return self.json({"rows": [[_jsonable(v) for v in row] for row in rows]})


_UNAUTHORISED = {
    "error": f"this view needs the worker's token in the {localauth.HEADER} header: civicloop's own "
    "commands send it when run as the deployment's user (civicloop/localauth.py)",
    "kind": "unauthorized",
}


def _authorised(request: Request, state: WorkerState) -> bool:
    return localauth.matches(request.headers.get(localauth.HEADER), state.token)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.read()
    if len(raw) > 2 * MAX_SQL_BYTES:
        raise BadRequest(f"the body is {len(raw)} bytes; at most {2 * MAX_SQL_BYTES} are accepted")
    try:
        body = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not JSON ({exc})") from None
    if not isinstance(body, dict):
        raise BadRequest('the body must be a JSON object, e.g. {"sql": "SELECT 1"}')
    return body


def _sql(body: dict[str, Any]) -> str:
    sql = body.get("sql")
    if not isinstance(sql, str) or not sql.strip():
        raise BadRequest('"sql" must be a non-empty string: {"sql": "SELECT …"}')
    if len(sql.encode("utf-8", errors="replace")) > MAX_SQL_BYTES:
        raise BadRequest(f'"sql" is longer than {MAX_SQL_BYTES} bytes')
    return sql


def _since(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise BadRequest(f'"since" = {value!r} is not an ISO date or time, e.g. 2026-01-01') from None


def _status(status: ReplayStatus) -> dict[str, Any]:
    return {**asdict(status), "rate": status.rate}


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value
