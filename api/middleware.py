"""What wraps every request: a body-size limit and the access log.

The body limit reads at most ``limit`` bytes before any handler runs (chunked bodies too),
so an oversized request is refused with 413 and never parsed. The access log records the
method, the path without its query string (an Open311 client may put ``api_key`` there), the
status, the time taken and the id of the key used — never the key.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from civicloop import log
from civicloop.api.errors import ApiError, Problem

_log = log.get("civicloop.api.access")
Render = Callable[[Scope, ApiError], ASGIApp]


class BodyLimit:
    """413 for a request body larger than ``limit`` bytes; the body is buffered up to it."""

    def __init__(self, app: ASGIApp, limit: int, render: Render) -> None:
        self.app, self.limit, self.render = app, limit, render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(scope, receive, send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect, as a server would

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = ApiError(
            413, [Problem(f"the request body is larger than {self.limit:,} bytes", "body", "too_large")]
        )
        await self.render(scope, error)(scope, receive, send)


class AccessLog:
    """One structlog event per request, without query strings or keys."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            state = scope.get("state") or {}
            _log.info(
                "http_request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                ms=round((time.perf_counter() - started) * 1000, 1),
                key_id=state.get("key_id"),
            )
