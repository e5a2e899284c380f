"""What each Idempotency-Key was first used for, shared by every API process on the host.

The event id of a call with an ``Idempotency-Key`` is derived from the key's id, the case,
the action and the header (``usecases.derived_id``), so a retry is the same event. The first
request that uses such an id records a digest of what it asked (the action's body, the Open311
form); a retry with the same request goes on as the same call, and the same header with a
different request is refused with 422 ``idempotency_key_reused`` — never answered with the
first call's result as if it were this one's.

The records are a SQLite file beside the API keys (``idempotency.sqlite``). The insert is
atomic across processes (first writer wins), so two processes racing with different bodies
cannot both be accepted; WAL mode keeps a record to a few microseconds (no fsync per commit:
a record lost in a power cut only lets a retry through as a new-looking call, whose event id
the projections already keep once). Records older than ``RETAIN_DAYS`` are dropped at start.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from civicloop.api.errors import ApiError, Problem

#: how long a key's first request is remembered (clients retry within minutes or hours)
RETAIN_DAYS = 30


def digest(request: Any) -> str:
    """A digest of what a request asks, independent of key order."""
    text = json.dumps(request, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class Idempotency:
    """The first request digest per derived event id; safe to share between threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS first_use (event_id TEXT PRIMARY KEY, digest TEXT NOT NULL, "
            "used_at TEXT NOT NULL)"
        )
        cutoff = datetime.now(UTC) - timedelta(days=RETAIN_DAYS)
        self._db.execute("DELETE FROM first_use WHERE used_at < ?", (cutoff.isoformat(),))

    def claim(self, event_id: str, request_digest: str) -> None:
        """Record ``request_digest`` as what ``event_id``'s key was first used for, unless
        something was; 422 when that was a different request."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO first_use VALUES (?, ?, ?)",
                (event_id, request_digest, datetime.now(UTC).isoformat()),
            )
            (first,) = self._db.execute(
                "SELECT digest FROM first_use WHERE event_id = ?", (event_id,)
            ).fetchone()
        if first != request_digest:
            raise ApiError(
                422,
                [
                    Problem(
                        "this Idempotency-Key was already used for a different request: a retry must "
                        "send the same request again, and a new request needs a new key",
                        "Idempotency-Key",
                        "idempotency_key_reused",
                    )
                ],
                {"reason": "idempotency_key_reused"},
            )

    def close(self) -> None:
        self._db.close()
