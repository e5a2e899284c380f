"""Reporter contact details under crypto-shredding (docs/DESIGN.md §9).

Events never carry personal data in plaintext: a reporter's contact (phone, e-mail) is sealed
with AES-256-GCM under a key of that reporter's own, and only the ciphertext and the key's id
travel in ``CaseReported``. Keys live outside Kafka and ClickHouse, in a key store; erasing a
reporter deletes their keys, after which every copy of their contact — in the immutable log, in
replicas, in backups of the log — is unreadable, while the events stay valid and decodable.

The shipped key store is a SQLite file (``CIVICLOOP_KEYSTORE``); a deployment with a KMS or a
vault implements the same three methods. Backups of the key store must follow erasures too.

Whoever reads the key store can read every contact, so it is private to the user civicloop
runs as (docs/TRUST.md §5): the file is created 0600 in a directory made 0700, and an existing
file that others may read is refused — its keys may have been copied, which an operator must
judge, not civicloop. No SQL entry point reaches it: they refuse file() and sqlite().
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sqlite3
import stat
import uuid
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from civicloop import log

NONCE = 12
_log = log.get(__name__)


class KeyStoreNotPrivate(PermissionError):
    """The key store (or its directory) can be read by users other than its owner."""


class KeyStore:
    """Per-reporter data keys: create on first use, look up by id, delete to erase."""

    def __init__(self, path: Path) -> None:
        _private(path)
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


def _private(path: Path) -> None:
    """Make ``path``'s directory 0700 and create ``path`` 0600, or refuse a key store that
    others can read (its keys may already have been copied)."""
    directory = path.parent
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = directory.stat()
    if stat.S_IMODE(info.st_mode) & 0o077:
        if info.st_uid != os.getuid():
            raise KeyStoreNotPrivate(
                f"the key store's directory {directory} is open to other users (mode "
                f"{stat.S_IMODE(info.st_mode):04o}) and not ours to restrict: set CIVICLOOP_KEYSTORE "
                "to a file in a directory only civicloop's user can enter"
            )
        # The state directory (var/) is often created by other tools first, with the umask.
        os.chmod(directory, 0o700)
        _log.warning("keystore_directory_restricted", directory=str(directory), mode="0700")
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise KeyStoreNotPrivate(
                f"the key store {path} can be read by other users (mode {mode:04o}), so its keys "
                "may have been copied. If you are sure they were not, restrict it with "
                f"`chmod 600 {path}`; otherwise treat every sealed contact as exposed."
            ) from None


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
