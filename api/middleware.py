"""What wraps every request: security headers, a clean request target, a body-size limit
and deadline, and the access log.

The body limit reads at most ``limit`` bytes before any handler runs (chunked bodies too),
so an oversized request is refused with 413 and never parsed; a body not whole within
``timeout`` seconds (announced and not sent, or trickled) is answered 408 and the connection
closed. A path or query string that is not UTF-8 once percent-decoded, or a query string that
holds a control character, is refused with 400 before routing. The access log records the method, the path
without its query string (an Open311 client may put ``api_key`` there) with anything
unprintable escaped, the status, the time taken and the id of the key used — never the key.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from civicloop import log
from civicloop.api import text
from civicloop.api.errors import ApiError, Problem

_log = log.get("civicloop.api.access")
Render = Callable[[Scope, ApiError], ASGIApp]


#: what every answer carries: no script, style sheet, frame or form target from elsewhere, no
#: inline script (the pages load their scripts as files), never framed, no MIME sniffing, and
#: no URL (which may hold an ``api_key``) sent on as a Referer
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        b"img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        b"form-action 'self'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


class _Http:
    """An ASGI middleware of HTTP requests (``http``); any other scope (lifespan) passes through."""

    app: ASGIApp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


def _on_start(send: Send, change: Callable[[Message], Message]) -> Send:
    """``send``, with ``change`` applied to the answer's start (its status and headers)."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = change(message)
        await send(message)

    return sending


def _with_headers(message: Message, headers: list[tuple[bytes, bytes]]) -> Message:
    """The start ``message`` with ``headers`` added, each unless it already has one of its name."""
    names = {name.lower() for name, _ in message.get("headers", [])}
    extra = [(n, v) for n, v in headers if n not in names]
    return {**message, "headers": [*message.get("headers", []), *extra]}


class SecurityHeaders(_Http):
    """Adds :data:`SECURITY_HEADERS` to every answer (errors and static files included)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, _on_start(send, lambda start: _with_headers(start, SECURITY_HEADERS)))


class CleanTarget(_Http):
    """400 for a path or query string that is not UTF-8 once percent-decoded (the server would
    put U+FFFD in its place), and for a query string that holds a control character (``%00``,
    ``%0A``, ``%C2%85``). A control character in the path is the route's to refuse: the case
    id's rule names ``case_id`` (schemas/ids.py); elsewhere such a path names nothing (404)."""

    def __init__(self, app: ASGIApp, render: Render) -> None:
        self.app, self.render = app, render

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
        query = scope.get("query_string", b"").replace(b"+", b" ")
        wrong = _target_problem(raw_path, controls=False)
        where = "path"
        if wrong is None:
            wrong, where = _target_problem(query, controls=True), "query"
        if wrong:
            error = ApiError(400, [Problem(f"the {where} {wrong}", where, "bad_text")])
            await self.render(scope, error)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _target_problem(raw: bytes, controls: bool) -> str | None:
    try:
        decoded = unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return "is not UTF-8 once percent-decoded"
    return text.problem(decoded) if controls else None


class BodyLimit(_Http):
    """413 for a request body larger than ``limit`` bytes; the body is buffered up to it.
    408 for one not whole within ``timeout`` seconds — judged by what has arrived when the
    process looks, so a process held up past the deadline does not refuse a body that came."""

    def __init__(self, app: ASGIApp, limit: int, render: Render, timeout: float = 10.0) -> None:
        self.app, self.limit, self.render, self.timeout = app, limit, render, timeout

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        try:
            try:
                async with asyncio.timeout(self.timeout):
                    body = await self._read(receive, chunks)
            except TimeoutError:
                # A process held up past the deadline (a long pause of its event loop) handles the
                # deadline and a body that arrived meanwhile in the same turn, and the deadline may
                # come first: take what has arrived by now, without waiting for more.
                async with asyncio.timeout(0):
                    body = await self._read(receive, chunks)
        except TimeoutError:
            error = ApiError(
                408,
                [Problem(f"the request body was not whole within {self.timeout:g} s", "body", "timeout")],
            )
            # the answer goes out with Connection: close: what the client sends on is never read
            await self.render(scope, error)(scope, receive, _closing(send))
            return
        except _TooLarge:
            await self._refuse(scope, receive, send)
            return
        if body is None:  # the client went away
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect, as a server would

        await self.app(scope, replay, send)

    async def _read(self, receive: Receive, chunks: list[bytes]) -> bytes | None:
        """The whole body, gathered in ``chunks`` (kept by the caller, so that what was read
        before a deadline is not read again); None when the client went away."""
        size = sum(map(len, chunks))
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = ApiError(
            413, [Problem(f"the request body is larger than {self.limit:,} bytes", "body", "too_large")]
        )
        await self.render(scope, error)(scope, receive, send)


class _TooLarge(Exception):
    pass


def _closing(send: Send) -> Send:
    return _on_start(
        send, lambda start: {**start, "headers": [*start.get("headers", []), (b"connection", b"close")]}
    )


def printable(value: str) -> str:
    """``value`` with every unprintable character escaped (``\\n``, ``\\x1b``, ``\\u2028``), so
    what a client sends cannot forge or break a log line."""
    if value.isprintable():
        return value
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in value)


class AccessLog(_Http):
    """One structlog event per request, without query strings or keys."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 500

        def seen(start: Message) -> Message:
            nonlocal status
            status = int(start["status"])
            return start

        try:
            await self.app(scope, receive, _on_start(send, seen))
        finally:
            state = scope.get("state") or {}
            _log.info(
                "http_request",
                method=printable(scope["method"]),
                path=printable(scope["path"]),
                status=status,
                ms=round((time.perf_counter() - started) * 1000, 1),
                key_id=state.get("key_id"),
            )
