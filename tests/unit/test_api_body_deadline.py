"""The body deadline (api/middleware.BodyLimit) in one event loop: a body that arrived while the
process was held up past the deadline is taken, not answered 408; a body that never comes still is.

The hold-up is a callback that blocks the loop (as a process stopped or starved by the machine
is): when the loop runs again, the body's arrival and the deadline are due in the same turn, the
arrival first — as a socket's data is handled before the timers of the same turn — and the
reading task is woken only after the deadline's callback has run."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from civicloop.api.errors import ApiError
from civicloop.api.middleware import BodyLimit

DEADLINE_S = 0.2


def _scope() -> dict[str, Any]:
    return {"type": "http", "method": "POST", "path": "/x", "headers": [(b"content-length", b"4")]}


async def _serve(app: BodyLimit, receive: Receive) -> list[Message]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await app(_scope(), receive, send)
    return sent


def _app() -> tuple[BodyLimit, list[bytes]]:
    seen: list[bytes] = []

    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((await receive())["body"])
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def render(scope: Scope, error: ApiError) -> Any:
        async def answer(scope: Scope, receive: Receive, send: Send) -> None:
            await send({"type": "http.response.start", "status": error.status, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        return answer

    return BodyLimit(handler, limit=1000, render=render, timeout=DEADLINE_S), seen


class _Client:
    """uvicorn's side of ``receive``: a body kept until read, an event set when it arrives."""

    def __init__(self) -> None:
        self.body: bytes | None = None
        self.arrived = asyncio.Event()

    def arrive(self, body: bytes) -> None:
        self.body = body
        self.arrived.set()

    async def receive(self) -> Message:
        await self.arrived.wait()
        return {"type": "http.request", "body": self.body, "more_body": False}


def _status(sent: list[Message]) -> int:
    return int(sent[0]["status"])


def test_a_body_that_arrived_while_the_loop_was_held_up_past_the_deadline_is_taken() -> None:
    async def run() -> tuple[list[Message], list[bytes]]:
        app, seen = _app()
        client = _Client()
        loop = asyncio.get_running_loop()
        # the loop is held up from 0.05 s to 0.05 + 3 × the deadline; the body came at 0.1 s
        loop.call_later(0.05, time.sleep, 3 * DEADLINE_S)
        loop.call_later(0.1, client.arrive, b"body")
        return await _serve(app, client.receive), seen

    sent, seen = asyncio.run(run())
    assert _status(sent) == 202
    assert seen == [b"body"]


def test_a_body_that_never_comes_is_still_answered_408() -> None:
    async def run() -> tuple[list[Message], list[bytes]]:
        app, seen = _app()
        client = _Client()
        asyncio.get_running_loop().call_later(0.05, time.sleep, 3 * DEADLINE_S)
        return await _serve(app, client.receive), seen

    sent, seen = asyncio.run(run())
    assert _status(sent) == 408
    assert seen == []
