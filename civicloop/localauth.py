"""The worker's local credential: who may use its SQL and replay views.

The worker's HTTP port is bound to loopback, but every local user can reach loopback. So at
start the worker writes a fresh random token to a file only the deployment's user can read
(0600, in the 0700 state directory, named after the port so several workers on one home never
overwrite each other's), and its SQL and replay views answer 401 to a request without it.
civicloop's own readers (``civicloop sql``, ``metrics``, ``replay``, the HTTP API reading chDB)
run as that user and read the file (docs/TRUST.md §4).
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

HEADER = "X-Civicloop-Token"


def issue(path: Path) -> str:
    """A new token, written to ``path`` (0600) before the worker serves anything."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    temporary = path.with_suffix(".tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(token)
    os.replace(temporary, path)  # readers see the old token or the new one, never half
    return token


def read(path: Path) -> str | None:
    """The token the worker on this port wrote, or None (no worker started here yet)."""
    try:
        return path.read_text().strip() or None
    except (FileNotFoundError, PermissionError):
        return None


def matches(presented: str | None, expected: str) -> bool:
    """Constant-time comparison, so the answer's timing says nothing about the token."""
    return presented is not None and hmac.compare_digest(presented.encode(), expected.encode())
