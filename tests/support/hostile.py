"""A hostile producer's messages, each with the dead-letter reason the worker must give it.

Built without civicloop's SDK checks (events are encoded straight from their fields, bytes are
made by hand), so they are what any client could put on the topic. The expected reasons come
from how each message was made, not from civicloop's decoder or validator.
"""

from __future__ import annotations

import json
import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from civicloop.schemas.codec import encode
from civicloop.schemas.event import Event
from tests.support import case_events as ev

HEADERS = [("x-evil", b"\x00\xff" * 8), ("", b""), ("reason", b"forged"), ("\u00e9", "\u4e2d".encode())]


@dataclass
class Message:
    key: bytes | None
    value: bytes | None
    reason: str = ""  # "" for a good event
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    case_id: str = ""  # the good case a hostile message must follow in its partition


def good(event: Event, headers: list[tuple[str, bytes]] | None = None) -> Message:
    return Message(event.case_id.encode(), encode(event), headers=headers or [])


def _event(type_: str, case_id: str, t: datetime, **fields: object) -> Event:
    return ev.event(type_, t, case_id, str(uuid.uuid4()), **fields)


def _report(case_id: str, t: datetime, **changes: object) -> Event:
    place = {"lat": 39.3, "lon": -76.6, "address": None, "grid_id": "G1", "district": "D1"}
    fields: dict[str, object] = dict(
        channel="hotline",
        category="roads",
        description="pothole",
        location=place,
        priority="normal",
        reporter_ref="r-1",
    )
    fields.update(changes)
    event_id = str(fields.pop("event_id", uuid.uuid4()))
    return ev.event("CaseReported", t, case_id, event_id, **fields)


class Hostile:
    """Makes hostile messages of every kind; ``rng`` keeps a run reproducible."""

    def __init__(self, rng: random.Random, t: datetime) -> None:
        self.rng, self.t, self.n = rng, t, 0

    def _id(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}-{self.n}"

    def _headers(self) -> list[tuple[str, bytes]]:
        return self.rng.sample(HEADERS, self.rng.randint(0, 3))

    def _raw(self, value: bytes | None, reason: str, key: bytes | None = None) -> Message:
        return Message(key if key is not None else self._id("junk").encode(), value, reason, self._headers())

    # --- bytes that are no event ---------------------------------------------------------
    def random_short(self) -> Message:
        return self._raw(self.rng.randbytes(self.rng.randint(0, 9)), "too_short")

    def tombstone(self) -> Message:
        return self._raw(None, "too_short")

    def random_bytes(self) -> Message:
        first = self.rng.choice([b for b in range(256) if b != 0xC3])
        return self._raw(bytes([first]) + self.rng.randbytes(self.rng.randint(9, 300)), "bad_marker")

    def json_event(self) -> Message:
        body = {"type": "CaseReported", "case_id": self._id("json"), "occurred_at": self.t.isoformat()}
        return self._raw(json.dumps(body).encode(), "bad_marker")

    def unknown_fingerprint(self) -> Message:
        body = encode(_report(self._id("fp"), self.t))[10:]
        return self._raw(b"\xc3\x01" + self.rng.randbytes(8) + body, "unknown_fingerprint")

    def truncated(self) -> Message:
        data = encode(_report(self._id("cut"), self.t))
        return self._raw(data[: self.rng.randint(10, len(data) - 1)], "corrupt_body")

    def trailing(self) -> Message:
        data = encode(_report(self._id("tail"), self.t))
        return self._raw(data + self.rng.randbytes(self.rng.randint(1, 20)), "trailing_bytes")

    # --- events the lifecycle does not allow -----------------------------------------------
    def unknown_case(self) -> Message:
        case = self._id("ghost")
        event = self.rng.choice(
            [
                ev.closed(self.t, case_id=case),
                ev.accepted(self.t, "T1", case_id=case),
                ev.registered(self.t, case),
            ]
        )
        return Message(case.encode(), encode(event), "illegal:case_not_reported", self._headers())

    def task_never_dispatched(self, case_id: str) -> Message:
        event = _event("TaskAccepted", case_id, self.t, task_id="T-never")
        return Message(case_id.encode(), encode(event), "illegal:task_not_dispatched", case_id=case_id)

    def reported_again(self, case_id: str) -> Message:
        event = _report(case_id, self.t)
        return Message(case_id.encode(), encode(event), "illegal:case_already_reported", case_id=case_id)

    def in_the_future(self, case_id: str) -> Message:
        event = ev.closed(datetime.now(UTC) + timedelta(days=3), case_id=case_id, event_id=str(uuid.uuid4()))
        return Message(case_id.encode(), encode(event), "illegal:future_event", case_id=case_id)

    def after_void(self, case_id: str) -> Message:
        event = _event("CaseRegistered", case_id, self.t, category="roads", priority="normal")
        return Message(case_id.encode(), encode(event), "illegal:case_voided", case_id=case_id)

    # --- values the stores cannot hold -------------------------------------------------------
    def absurd(self) -> Message:
        case = self._id("absurd")
        year_1, year_1900 = datetime(1, 1, 1, tzinfo=UTC), datetime(1900, 1, 1, tzinfo=UTC)
        year_2999 = datetime(2999, 1, 1, tzinfo=UTC)
        place = {"lat": 39.3, "lon": -76.6, "address": None, "grid_id": "G1", "district": "D1"}
        made = self.rng.choice(
            [
                (_report(case, self.t, occurred_at=year_1), "invalid:occurred_at"),
                (_report(case, self.t, occurred_at=year_1900), "invalid:occurred_at"),
                (_report(case, self.t, recorded_at=year_2999), "invalid:recorded_at"),
                (_report(case, self.t, location={**place, "lat": math.nan}), "invalid:location.lat"),
                (_report(case, self.t, location={**place, "lon": 1000.0}), "invalid:location.lon"),
                (_report(case, self.t, description="d" * 10_000), "invalid:description"),
                (_report(case, self.t, category="k" * 1000), "invalid:category"),
                (_report(case, self.t, event_id="not-a-uuid"), "invalid:event_id"),
                (
                    _event(
                        "TaskDispatched",
                        case,
                        self.t,
                        task_id="T1",
                        department="roads",
                        role="lead",
                        accept_by=self.t,
                        dispose_by=year_2999,
                    ),
                    "invalid:dispose_by",
                ),
                (
                    _event(
                        "CaseEscalated",
                        case,
                        self.t,
                        level=self.rng.choice([-5, 0, 300]),
                        reason="supervisor",
                        task_id=None,
                        deadline=None,
                    ),
                    "invalid:level",
                ),
            ]
        )
        event, reason = made
        return Message(case.encode(), encode(event), reason, self._headers())

    def bad_case_id(self) -> Message:
        """A case id with a character the id rule refuses (schemas/ids.py)."""
        bad = self.rng.choice(["\x00", "\x1b[2J", '"', "'", "\\", "\u202e", "\u2066", "\x85"])
        case = self._id("bad") + bad + "x"
        return Message(case.encode(), encode(_report(case, self.t)), "invalid:case_id", self._headers())

    def huge_case_id(self) -> Message:
        case = "x" * 300_000 + self._id("")
        return Message(case.encode(), encode(_report(case, self.t)), "invalid:case_id")

    # --- an event id reused with another body ------------------------------------------------
    def conflicting(self, event: Event) -> Message:
        """A good, projected ``event``'s id and key with another body: one field changed, or
        (one in five) a CaseEscalated of another schema under that id."""
        f = event.fields
        kind = self.rng.randrange(5)
        if kind == 0:
            envelope = {
                k: f[k] for k in ("event_id", "case_id", "occurred_at", "recorded_at", "actor", "source")
            }
            forged = Event("CaseEscalated", {**envelope, "level": 3, "reason": "supervisor", "task_id": None})
        else:
            change = [
                {"source": "forged/1"},
                {"occurred_at": f["occurred_at"] + timedelta(seconds=1)},
                {"recorded_at": f["recorded_at"] + timedelta(hours=1)},
                {"actor": {"type": "system", "id": "forger"}},
            ][kind - 1]
            forged = Event(event.type, {**f, **change}, event.version)
        return Message(
            event.case_id.encode(), encode(forged), "conflicting_duplicate", self._headers(), event.case_id
        )

    # --- events under a key that is not their case ------------------------------------------
    def wrong_key(self) -> Message:
        event = _report(self._id("keyed"), self.t)
        key = self.rng.choice([None, b"", self.rng.randbytes(16), b"someone-else"])
        return Message(key, encode(event), "misrouted", self._headers())
