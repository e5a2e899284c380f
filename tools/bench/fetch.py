"""The HTTP side of the console's and the dashboard's benches: a request, ready to be timed."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from urllib.parse import urlencode


def getter(base: str, path: str, key: str | None, params: dict[str, str]) -> Callable[[], bytes]:
    """A call that GETs ``path`` of ``base`` with ``params`` (as the holder of API key ``key``,
    if any) and returns the body."""
    url = f"{base}{path}" + (f"?{urlencode(params)}" if params else "")
    headers = {"X-API-Key": key} if key else {}

    def fetch() -> bytes:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=300) as response:
            body: bytes = response.read()
        return body

    return fetch
