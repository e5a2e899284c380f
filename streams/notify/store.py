"""The notifier's SQLite file: webhook subscriptions, each case's delivery context, and the
outbox of deliveries with their state.

The outbox is the notifier's memory of what it owes: one row per (target, case, event id),
written before the Kafka offset that covers the event is committed, so a notifier killed at
any moment re-reads at most what it had not yet recorded, and the row's uniqueness turns that
re-read into nothing (neither skipped nor sent twice on account of the re-read). A row is
marked delivered only after its target confirmed it; a kill between the two sends it again,
with the same event id (at least once). The file is private to civicloop's user: it holds the
subscriptions' signing secrets and sealed contacts (ciphertext only).
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

#: targets of outbox rows: ``webhook:<subscription id>`` or a reporter adapter's name
WEBHOOK = "webhook:"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS subscriptions (sub_id TEXT PRIMARY KEY, url TEXT NOT NULL, "
    "events TEXT NOT NULL, department TEXT, secret TEXT NOT NULL, created_at REAL NOT NULL, "
    "removed_at REAL)",
    "CREATE TABLE IF NOT EXISTS cases (case_id TEXT PRIMARY KEY, key_id TEXT, sealed BLOB, department TEXT)",
    "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, target TEXT NOT NULL, "
    "case_id TEXT NOT NULL, event_id TEXT NOT NULL, payload BLOB, status TEXT NOT NULL, "
    "attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL, first_failed_at REAL, "
    "last_error TEXT, created_at REAL NOT NULL, done_at REAL, UNIQUE (target, case_id, event_id))",
    "CREATE INDEX IF NOT EXISTS outbox_due ON outbox (target, status, seq)",
)


@dataclass(frozen=True)
class Subscription:
    sub_id: str
    url: str
    events: tuple[str, ...]  # event types; ("*",) for every one
    department: str | None
    secret: str
    created_at: float

    @property
    def target(self) -> str:
        return WEBHOOK + self.sub_id

    def wants(self, event_type: str, department: str | None) -> bool:
        """Whether an event of ``event_type`` in a case led by ``department`` goes here."""
        if "*" not in self.events and event_type not in self.events:
            return False
        return self.department is None or self.department == department


@dataclass(frozen=True)
class Delivery:
    seq: int
    target: str
    case_id: str
    event_id: str
    payload: bytes
    attempts: int
    first_failed_at: float | None


@dataclass(frozen=True)
class CaseContext:
    key_id: str | None
    sealed: bytes | None
    department: str | None


@dataclass(frozen=True)
class TargetState:
    """One target's queue, for ``civicloop status`` and the failures list."""

    target: str
    pending: int
    failed: int
    delivered: int
    oldest_pending_age_s: float | None


class NotifyStore:
    """One connection to the notifier's file; each thread opens its own."""

    def __init__(self, path: Path, durable: bool = True) -> None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
        path.touch(mode=0o600, exist_ok=True)
        os.chmod(path, 0o600)
        self.path = path
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode = WAL")
        # Recording what is owed must survive a power cut (its offsets are committed next);
        # a lost "delivered" mark only sends that one again, so couriers need not wait for fsync.
        self._db.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
        for statement in _SCHEMA:
            self._db.execute(statement)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()

    # subscriptions -------------------------------------------------------------------------

    def subscribe(self, url: str, events: Iterable[str], department: str | None) -> Subscription:
        sub = Subscription(
            "wh" + secrets.token_hex(4),
            url,
            tuple(events),
            department,
            "whsec_" + secrets.token_urlsafe(32),
            time.time(),
        )
        with self.transaction() as db:
            db.execute(
                "INSERT INTO subscriptions VALUES (?, ?, ?, ?, ?, ?, NULL)",
                (sub.sub_id, sub.url, ",".join(sub.events), sub.department, sub.secret, sub.created_at),
            )
        return sub

    def unsubscribe(self, sub_id: str) -> bool:
        """Stop delivering to ``sub_id``; what it was still owed is dropped with it."""
        with self.transaction() as db:
            removed = db.execute(
                "UPDATE subscriptions SET removed_at = ? WHERE sub_id = ? AND removed_at IS NULL",
                (time.time(), sub_id),
            ).rowcount
            db.execute(
                "UPDATE outbox SET status = 'dropped', payload = NULL WHERE target = ? AND status != "
                "'delivered'",
                (WEBHOOK + sub_id,),
            )
        return bool(removed)

    def subscriptions(self) -> list[Subscription]:
        rows = self._db.execute(
            "SELECT sub_id, url, events, department, secret, created_at FROM subscriptions "
            "WHERE removed_at IS NULL ORDER BY created_at"
        ).fetchall()
        return [Subscription(r[0], r[1], tuple(r[2].split(",")), r[3], r[4], r[5]) for r in rows]

    # case context --------------------------------------------------------------------------

    def context(self, case_id: str) -> CaseContext:
        row = self._db.execute(
            "SELECT key_id, sealed, department FROM cases WHERE case_id = ?", (case_id,)
        ).fetchone()
        return CaseContext(*row) if row else CaseContext(None, None, None)

    # the outbox ----------------------------------------------------------------------------

    def next_due(self, target: str, now: float) -> Delivery | None:
        """The oldest pending delivery of ``target`` if it is due: one at a time, in order."""
        row = self._db.execute(
            "SELECT seq, target, case_id, event_id, payload, attempts, first_failed_at, next_at "
            "FROM outbox WHERE target = ? AND status = 'pending' ORDER BY seq LIMIT 1",
            (target,),
        ).fetchone()
        if row is None or row[7] > now:
            return None
        return Delivery(*row[:7])

    def delivered(self, seq: int, status: str = "delivered") -> None:
        """Done (``delivered``, or ``skipped`` when there was nobody to tell): the payload goes,
        the row stays as the memory that this event was handled for this target."""
        self._db.execute(
            "UPDATE outbox SET status = ?, payload = NULL, done_at = ?, last_error = NULL WHERE seq = ?",
            (status, time.time(), seq),
        )

    def failed(self, delivery: Delivery, error: str, retry_in: float, give_up: bool) -> None:
        now = time.time()
        self._db.execute(
            "UPDATE outbox SET status = ?, attempts = attempts + 1, next_at = ?, last_error = ?, "
            "first_failed_at = COALESCE(first_failed_at, ?) WHERE seq = ?",
            ("failed" if give_up else "pending", now + retry_in, error[:500], now, delivery.seq),
        )

    def forget_done(self, before: float) -> int:
        """Forget the deliveries finished before ``before`` (epoch seconds): delivered, skipped
        or dropped rows, kept only as the memory that stops a re-read of the case topic from
        sending them again. Pending and failed rows stay whatever their age. How many went."""
        with self.transaction() as db:
            return db.execute(
                "DELETE FROM outbox WHERE status IN ('delivered', 'skipped', 'dropped') "
                "AND COALESCE(done_at, created_at) < ?",  # a dropped row has no done_at
                (before,),
            ).rowcount

    def failures(self) -> list[tuple[int, str, str, str, int, str]]:
        """(seq, target, case id, event id, attempts, last error) of every failed delivery."""
        return self._db.execute(
            "SELECT seq, target, case_id, event_id, attempts, last_error FROM outbox "
            "WHERE status = 'failed' ORDER BY seq"
        ).fetchall()

    def retry(self, target: str | None = None) -> int:
        """Put failed deliveries (of one target, or all) back in their queues; how many."""
        where, params = ("AND target = ?", (target,)) if target else ("", ())
        with self.transaction() as db:
            return db.execute(
                "UPDATE outbox SET status = 'pending', attempts = 0, first_failed_at = NULL, next_at = 0 "
                f"WHERE status = 'failed' {where}",
                params,
            ).rowcount

    def targets(self) -> list[TargetState]:
        now = time.time()
        rows = self._db.execute(
            "SELECT target, sum(status = 'pending'), sum(status = 'failed'), "
            "sum(status IN ('delivered', 'skipped')), min(CASE WHEN status = 'pending' THEN created_at END) "
            "FROM outbox GROUP BY target ORDER BY target"
        ).fetchall()
        return [TargetState(r[0], r[1], r[2], r[3], None if r[4] is None else now - r[4]) for r in rows]

    def record(self, contexts: dict[str, CaseContext], rows: list[tuple[str, str, str, bytes]]) -> int:
        """In one transaction: the cases' new contexts and the deliveries (target, case id, event
        id, payload) they owe; a delivery already recorded is left as it is. Returns how many
        were new."""
        now = time.time()
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO cases VALUES (?, ?, ?, ?)",
                [(case_id, c.key_id, c.sealed, c.department) for case_id, c in contexts.items()],
            )
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO outbox (target, case_id, event_id, payload, status, next_at, "
                "created_at) VALUES (?, ?, ?, ?, 'pending', 0, ?)",
                [(*row, now) for row in rows],
            )
            return db.total_changes - before

    def sent(self, target: str) -> list[str]:
        """Event ids delivered to ``target``, in delivery order (tests, the benchmark)."""
        rows = self._db.execute(
            "SELECT event_id FROM outbox WHERE target = ? AND status = 'delivered' ORDER BY done_at, seq",
            (target,),
        )
        return [r[0] for r in rows.fetchall()]

    def counts(self, target: str) -> dict[str, int]:
        """Deliveries of ``target`` by status (pending, delivered, skipped, failed, dropped)."""
        rows = self._db.execute(
            "SELECT status, count(*) FROM outbox WHERE target = ? GROUP BY status", (target,)
        ).fetchall()
        return {str(status): int(n) for status, n in rows}
