"""Webhook signatures: HMAC-SHA256 over ``<timestamp>.<body>`` under the subscription's
secret, so a receiver can tell our deliveries from forgeries and refuse replays of old ones
(docs/NOTIFY.md has the receiver's side)."""

from __future__ import annotations

import hashlib
import hmac

EVENT_ID = "X-Civicloop-Event-Id"
TIMESTAMP = "X-Civicloop-Timestamp"
SIGNATURE = "X-Civicloop-Signature"
EVENT_TYPE = "X-Civicloop-Event-Type"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def headers(secret: str, timestamp: int, event_id: str, event_type: str, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        EVENT_ID: event_id,
        EVENT_TYPE: event_type,
        TIMESTAMP: str(timestamp),
        SIGNATURE: signature(secret, timestamp, body),
    }


def verify(secret: str, timestamp: str, body: bytes, given: str) -> bool:
    """The receiver's check (also what the tests' receiver runs)."""
    try:
        stamp = int(timestamp)
    except ValueError:
        return False
    return hmac.compare_digest(signature(secret, stamp, body), given)
