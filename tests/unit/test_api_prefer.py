"""``Prefer: wait=N`` (RFC 7240) as the handling API reads it: the wait in seconds, capped;
other preferences and malformed waits ignored, as the RFC asks of a server."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from civicloop.api.handling import MAX_WAIT_S, preferred_wait


def _request(*prefer: str) -> Request:
    headers = [(b"prefer", value.encode()) for value in prefer]
    return Request({"type": "http", "method": "POST", "path": "/", "headers": headers})


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ((), None),
        (("wait=5",), 5.0),
        (("WAIT = 7",), 7.0),
        (('wait="3"',), 3.0),
        (("respond-async, wait=10",), 10.0),
        (("return=minimal", "wait=2"), 2.0),
        (("wait=0",), 0.0),
        (("wait=100000",), MAX_WAIT_S),
        (("wait=-1",), None),
        (("wait=1.5",), None),
        (("wait=soon",), None),
        (("wait",), None),
        (("handling=lenient",), None),
    ],
)
def test_the_wait_asked_for(headers: tuple[str, ...], wait: float | None) -> None:
    assert preferred_wait(_request(*headers)) == wait
