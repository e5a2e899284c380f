"""The dashboard served on its own (read-only): what the browser test and ``civicloop bench
dashboard`` run, on a real uvicorn server on a loopback port.

In production the dashboard is one router of civicloop's HTTP server (``civicloop api``),
behind its API keys and roles; ``require_key`` here is a stand-in for that check — one key
from the caller, compared in constant time — for as long as the router is served alone.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI, HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse

from civicloop.api.dashboard.router import SourceFor, create_dashboard_router
from civicloop.config import Config
from civicloop.projections.backend import open_reader
from civicloop.projections.store.base import Params, Reader, Row


def require_key(expected: str) -> Callable[[Request], None]:
    """A FastAPI dependency: 401 unless the request's ``X-API-Key`` is ``expected``."""

    def check(request: Request) -> None:
        presented = request.headers.get("x-api-key", "")
        if not presented:
            raise HTTPException(401, "no API key: send it as X-API-Key")
        if not hmac.compare_digest(presented.encode(), expected.encode()):
            raise HTTPException(401, "the API key is not valid")

    return check


class ReaderPerThread:
    """The configured projections, one reader per server thread (a ClickHouse server's
    client is not shared between threads; chDB is read through the worker that holds it)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.database = config.database
        self._local = threading.local()

    def query(self, sql: str, params: Params | None = None) -> list[Row]:
        reader: Reader | None = getattr(self._local, "reader", None)
        if reader is None:
            reader = self._local.reader = open_reader(self.config)
        return reader.query(sql, params)


def create_app(source: SourceFor, require: Callable[..., None]) -> FastAPI:
    app = FastAPI(title="civicloop dashboard", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(create_dashboard_router(source, require))
    app.add_api_route("/", lambda: RedirectResponse("/dashboard"), include_in_schema=False)
    return app


@contextmanager
def serving(app: FastAPI, port: int, host: str = "127.0.0.1") -> Iterator[str]:
    """``app`` on a real uvicorn server at ``host:port`` in a thread; yields its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, name="dashboard-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the dashboard server did not start on {host}:{port}")
        time.sleep(0.05)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
