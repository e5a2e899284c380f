"""Which deliveries an event owes: pure, from the event, its case's context and the
subscriptions (no I/O, unit-tested).

A case's context is what later events need and do not carry: the sealed contact of its report
(ciphertext and key id — never the plaintext) and the department that leads it. Webhook bodies
are built here, once, so every retry of a delivery sends the same bytes; reporter messages are
only named here (kind and case), and composed when sent, so an erasure in between is honoured.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from civicloop.schemas.event import Event
from civicloop.schemas.jsonform import to_json_value
from civicloop.schemas.registry import registry
from civicloop.streams.notify.store import CaseContext, Subscription

#: reporter messages: the event type that triggers each kind
REPORTER_MESSAGES = {"CaseReported": "received", "CaseClosed": "closed", "CaseReopened": "reopened"}
#: a reporter is told of events logged at most this long before the notifier read them
REPORTER_MAX_AGE_S = 7 * 86400
#: fields no subscriber receives: the sealed contact and the reporter's pseudonym
PRIVATE_FIELDS = frozenset({"contact_ciphertext", "contact_key_id", "reporter_ref"})


def next_context(context: CaseContext, event: Event) -> CaseContext:
    """The case's context after ``event``."""
    if event.type == "CaseReported":
        return replace(context, key_id=event.get("contact_key_id"), sealed=event.get("contact_ciphertext"))
    if event.type == "TaskDispatched" and event.get("role", "lead") == "lead":
        return replace(context, department=event.get("department"))
    return context


def status_url(public_url: str, case_id: str) -> str:
    """The case's public Open311 status page."""
    return f"{public_url}/open311/v2/requests/{quote(case_id, safe='')}.json"


def webhook_body(event: Event, department: str | None, public_url: str) -> bytes:
    """The JSON a subscriber receives for ``event`` (docs/NOTIFY.md)."""
    schema = registry().latest(event.type).schema
    fields = {f["name"]: f["type"] for f in schema["fields"]}
    data = {
        name: to_json_value(fields[name], value)
        for name, value in event.fields.items()
        if name in fields and name not in PRIVATE_FIELDS
    }
    body: dict[str, Any] = {
        "event_id": event.event_id,
        "event_type": event.type,
        "case_id": event.case_id,
        "occurred_at": data["occurred_at"],
        "department": department,
        "status_url": status_url(public_url, event.case_id),
        "data": data,
    }
    return json.dumps(body, ensure_ascii=False, sort_keys=True).encode()


def deliveries(
    event: Event,
    context: CaseContext,
    subscriptions: list[Subscription],
    logged_at: float,
    public_url: str,
    reporter_targets: tuple[str, ...],
    now: float | None = None,
) -> list[tuple[str, bytes]]:
    """(target, payload) of every delivery ``event`` owes, given its case's context after it.

    A subscription receives the events that entered the log after it was made (``logged_at``,
    the Kafka record time), so adding one does not replay history to it; the reporter, the
    events of the last ``REPORTER_MAX_AGE_S`` (a first start on a long history writes to
    nobody about the past)."""
    owed: list[tuple[str, bytes]] = []
    wanting = [
        s for s in subscriptions if s.created_at <= logged_at and s.wants(event.type, context.department)
    ]
    if wanting:
        body = webhook_body(event, context.department, public_url)
        owed += [(s.target, body) for s in wanting]
    kind = REPORTER_MESSAGES.get(event.type)
    recent = (time.time() if now is None else now) - logged_at <= REPORTER_MAX_AGE_S
    if kind and recent and context.sealed is not None and context.key_id is not None:
        owed += [(target, kind.encode()) for target in reporter_targets]
    return owed
