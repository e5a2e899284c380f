"""API keys with roles, stored hashed (docs/API.md, "Keys and roles").

A key is a high-entropy random token shown once, when it is created; the store keeps only its
SHA-256, so a copy of the file gives nobody a usable key (a slow password hash buys nothing
for 256 random bits). The file is created 0600 in a 0700 directory. Revoking is immediate:
a process remembers the keys it has seen only while the file is unchanged — SQLite counts
every commit in the file's header (offset 24, "file change counter", rollback-journal mode) —
so several API processes sharing the file agree at once without a query per request.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

#: every role; ``department`` keys carry the department they act for (``department:<name>``)
ROLES = ("intake", "department", "dispatcher", "supervisor", "analyst")
TOKEN_PREFIX = "clk_"


@dataclass(frozen=True)
class ApiKey:
    """What a key may do (its role) and who it is (its id, never the token itself)."""

    key_id: str
    role: str
    department: str | None
    label: str
    created_at: str
    revoked_at: str | None = None

    @property
    def role_name(self) -> str:
        """``department:roads`` for department keys, the role itself otherwise."""
        return f"department:{self.department}" if self.role == "department" else self.role


class ApiKeyError(ValueError):
    """A key that cannot be created as asked (unknown role, missing department)."""


def parse_role(role: str, department: str | None) -> tuple[str, str | None]:
    """(role, department) from ``--role`` / ``--department``; ``department:NAME`` works too."""
    if role.startswith("department:") and department is None:
        role, department = "department", role.split(":", 1)[1]
    if role not in ROLES:
        raise ApiKeyError(
            f"role {role!r} is not one of {', '.join(ROLES)} (department keys: --department NAME)"
        )
    if role == "department" and not (department or "").strip():
        raise ApiKeyError("a department key needs the department it acts for: --department NAME")
    if role != "department" and department:
        raise ApiKeyError(f"--department only goes with --role department, not with {role!r}")
    return role, department.strip() if department else None


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiKeyStore:
    """The key file: create, authenticate, list, revoke. Safe to share between threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
        path.touch(mode=0o600, exist_ok=True)
        os.chmod(path, 0o600)  # also when it existed with looser rights
        self._path = path
        self._lock = threading.Lock()
        self._seen: dict[str, ApiKey] = {}  # token digest → live key, valid for _seen_version
        self._seen_version: tuple[int, bytes] | None = None
        self._header: int | None = None  # a descriptor for reading the file's change counter
        self._header_inode = -1
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS api_keys (key_id TEXT PRIMARY KEY, token_sha256 TEXT UNIQUE "
            "NOT NULL, role TEXT NOT NULL, department TEXT, label TEXT NOT NULL, created_at TEXT NOT "
            "NULL, revoked_at TEXT)"
        )
        self._db.commit()

    def create(self, role: str, department: str | None = None, label: str = "") -> tuple[ApiKey, str]:
        """A new key: (its record, the token). The token is not stored and cannot be shown again."""
        role, department = parse_role(role, department)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(
            key_id="k" + secrets.token_hex(5),
            role=role,
            department=department,
            label=label,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        with self._lock:
            self._db.execute(
                "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, NULL)",
                (key.key_id, digest(token), key.role, key.department, key.label, key.created_at),
            )
            self._db.commit()
        return key, token

    def authenticate(self, token: str) -> ApiKey | None:
        """The live key whose token this is, or None (unknown or revoked)."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        hashed = digest(token)
        with self._lock:
            version = self._version()
            if version != self._seen_version:
                self._seen, self._seen_version = {}, version
            if hashed in self._seen:
                return self._seen[hashed]
            row = self._db.execute(
                "SELECT key_id, role, department, label, created_at, revoked_at FROM api_keys "
                "WHERE token_sha256 = ? AND revoked_at IS NULL",
                (hashed,),
            ).fetchone()
            if row is None:
                return None  # unknown tokens are not remembered: nothing to fill memory with
            key = self._seen[hashed] = ApiKey(*row)
            return key

    def _version(self) -> tuple[int, bytes]:
        """Changes whenever any process commits to the file (create, revoke) or replaces it."""
        inode = os.stat(self._path).st_ino
        if self._header is None or inode != self._header_inode:  # first call, or a new file
            if self._header is not None:
                os.close(self._header)
            self._header, self._header_inode = os.open(self._path, os.O_RDONLY), inode
        return inode, os.pread(self._header, 4, 24)

    def list(self) -> list[ApiKey]:
        with self._lock:
            rows = self._db.execute(
                "SELECT key_id, role, department, label, created_at, revoked_at FROM api_keys "
                "ORDER BY created_at, key_id"
            ).fetchall()
        return [ApiKey(*row) for row in rows]

    def revoke(self, key_id: str) -> bool:
        """Revoke a live key; False when there is no live key with that id."""
        with self._lock:
            changed = self._db.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                (datetime.now(UTC).isoformat(timespec="seconds"), key_id),
            ).rowcount
            self._db.commit()
        return changed > 0

    def close(self) -> None:
        if self._header is not None:
            os.close(self._header)
        self._db.close()
