"""A webhook receiver on loopback for the notifier's tests: it records every request it answers
and verifies each signature with the receiver's recipe (docs/NOTIFY.md)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    event_id: str
    timestamp: str
    signature: str
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.body)
        return loaded


@dataclass
class Receiver:
    url: str = ""
    healthy: threading.Event = field(default_factory=threading.Event)
    accepted: list[Received] = field(default_factory=list)  # answered 2xx, in arrival order
    refused: int = 0  # answered 500

    def event_ids(self) -> list[str]:
        return [r.event_id for r in list(self.accepted)]


@contextmanager
def receiver(healthy: bool = True) -> Iterator[Receiver]:
    """A receiver that answers 204 while ``healthy`` is set and 500 otherwise."""
    state = Receiver()
    if healthy:
        state.healthy.set()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if not state.healthy.is_set():
                state.refused += 1
                self.send_response(500)
            else:
                state.accepted.append(
                    Received(
                        self.headers.get("X-Civicloop-Event-Id", ""),
                        self.headers.get("X-Civicloop-Timestamp", ""),
                        self.headers.get("X-Civicloop-Signature", ""),
                        body,
                    )
                )
                self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
