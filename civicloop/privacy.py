"""Reporter contact details under crypto-shredding (docs/DESIGN.md §9).

Events never carry personal data in plaintext: a reporter's contact (phone, e-mail) is sealed
with AES-256-GCM under a key of that reporter's own, and only the ciphertext and the key's id
travel in ``CaseReported``. Keys live outside Kafka and ClickHouse, in a key store; erasing a
reporter deletes their keys, after which every copy of their contact — in the immutable log, in
replicas, in backups of the log — is unreadable, while the events stay valid and decodable.

The shipped key store is a SQLite file (``CIVICLOOP_KEYSTORE``); a deployment with a KMS or a
vault implements the same three methods. Backups of the key store must follow erasures too.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sqlite3
import uuid
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE = 12


class KeyStore:
    """Per-reporter data keys: create on first use, look up by id, delete to erase."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute("PRAGMA secure_delete = ON")  # erased keys are overwritten on disk
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS reporter_keys (key_id TEXT PRIMARY KEY, "
            "reporter_ref TEXT NOT NULL, key BLOB NOT NULL)"
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS by_reporter ON reporter_keys (reporter_ref)")
        self._db.execute("CREATE TABLE IF NOT EXISTS secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL)")
        self._db.commit()
        self._secrets: dict[str, bytes] = {}  # a secret never changes once made: read it once

    def key_for(self, reporter_ref: str) -> tuple[str, bytes]:
        row = self._db.execute(
            "SELECT key_id, key FROM reporter_keys WHERE reporter_ref = ? LIMIT 1", (reporter_ref,)
        ).fetchone()
        if row:
            return str(row[0]), bytes(row[1])
        key_id, key = str(uuid.uuid4()), AESGCM.generate_key(bit_length=256)
        self._db.execute("INSERT INTO reporter_keys VALUES (?, ?, ?)", (key_id, reporter_ref, key))
        self._db.commit()
        return key_id, key

    def key(self, key_id: str) -> bytes | None:
        row = self._db.execute("SELECT key FROM reporter_keys WHERE key_id = ?", (key_id,)).fetchone()
        return bytes(row[0]) if row else None

    def erase(self, reporter_ref: str) -> int:
        """Delete every key of the reporter; return how many were deleted."""
        deleted = self._db.execute(
            "DELETE FROM reporter_keys WHERE reporter_ref = ?", (reporter_ref,)
        ).rowcount
        self._db.commit()
        self._db.execute("VACUUM")
        return deleted

    def secret(self, name: str) -> bytes:
        """A deployment-wide random secret, made on first use and kept with the keys."""
        if name in self._secrets:
            return self._secrets[name]
        self._db.execute(
            "INSERT OR IGNORE INTO secrets VALUES (?, ?)", (name, secrets.token_bytes(32))
        )  # OR IGNORE: another process may have made it first; then both use that one
        self._db.commit()
        row = self._db.execute("SELECT value FROM secrets WHERE name = ?", (name,)).fetchone()
        self._secrets[name] = bytes(row[0])
        return self._secrets[name]

    def close(self) -> None:
        self._db.close()


def pseudonym(store: KeyStore, identity: str) -> str:
    """A stable pseudonymous ``reporter_ref`` for an identity (account id, e-mail, phone).

    An HMAC under a secret of the key store, not a bare hash: an e-mail address has little
    entropy, so a plain digest could be reversed by hashing guesses; without the key store
    the ref says nothing about the person. The same person gets the same ref, so erasing
    that ref erases every report of theirs."""
    secret = store.secret("reporter-pseudonyms")
    mac = hmac.new(secret, identity.strip().lower().encode(), hashlib.sha256).hexdigest()
    return "rp-" + mac[:32]


def seal(store: KeyStore, reporter_ref: str, contact: str) -> tuple[bytes, str]:
    """(contact_ciphertext, contact_key_id) for a CaseReported; the key id is the AAD."""
    key_id, key = store.key_for(reporter_ref)
    nonce = os.urandom(NONCE)
    return nonce + AESGCM(key).encrypt(nonce, contact.encode(), key_id.encode()), key_id


def unseal(store: KeyStore, ciphertext: bytes, key_id: str) -> str | None:
    """The contact, or None once the reporter was erased (the key no longer exists)."""
    key = store.key(key_id)
    if key is None:
        return None
    return AESGCM(key).decrypt(ciphertext[:NONCE], ciphertext[NONCE:], key_id.encode()).decode()
