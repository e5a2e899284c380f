"""The folded state of one case and its tasks, and its compact serialised form.

Times are whole seconds since the epoch (UTC): the projections are second-precision
``DateTime('UTC')``, so the fold floors event times on entry and every comparison the
metrics make (closed by the deadline, responded by accept-by) sees the same values the
tables hold. A deadline is None when none was set (``TaskDispatched`` v2 allows null
deadlines, e.g. imported history without an SLA); None serialises as JSON null, so the
format is unchanged. Seen event ids are kept as 64-bit digests: a case has tens of events, and a
collision inside one case (p ~ n²/2⁶⁵) is far below any other failure rate.

Each seen event id keeps the digest of the body it was first folded with (``body_digest`` of the
message's bytes), so a later message with the same id and another body is known as such on any
worker, after any restart and in any replay (docs/DESIGN.md §6: one body per event id). States
saved before the digests were kept (format 1) read back with every body unknown (0).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field, fields
from hashlib import blake2b
from typing import Any

import orjson
from mypy_extensions import mypyc_attr

FORMAT = 2  # bump when the serialised shape changes incompatibly
READABLE = (1, FORMAT)  # 1: no body digests (read as unknown)
UNKNOWN_BODY = 0  # the body digest of an event folded before the digests were kept


# Plain Python classes even where this module is compiled (civicloop/compiled.py): the fold
# clones a case per event, and a compiled dataclass builds its instances through the generated
# (interpreted) __init__ with every attribute set through a descriptor, 2-3x slower.
@mypyc_attr(native_class=False)
@dataclass(slots=True)
class TaskState:
    task_id: str
    department: str
    role: str
    dispatched_at: int
    accept_by: int | None  # None: no deadline set (never accept-overdue, no response rate)
    dispose_by: int | None  # None: no deadline set until an extension sets one
    original_dispose_by: int | None
    status: str = "dispatched"  # dispatched | accepted | returned | disposed | closed
    accepted_at: int | None = None
    contacted_at: int | None = None
    returned_at: int | None = None
    return_reason: str = ""
    disposed_at: int | None = None
    outcome: str = ""
    extensions: int = 0
    version: int = 0  # the case version at this task's last change
    updated_at: int = 0  # the time of the event of that change

    @property
    def live(self) -> bool:
        """Still being worked on: dispatched or accepted, not ended."""
        return self.status in ("dispatched", "accepted")


@mypyc_attr(native_class=False)
@dataclass(slots=True)
class CaseState:
    case_id: str
    state: str
    reported_at: int
    channel: str = ""
    category: str = ""
    priority: str = ""
    district: str = ""
    grid_id: str = ""
    lat: float | None = None
    lon: float | None = None
    version: int = 0
    updated_at: int = 0
    registered_at: int | None = None
    deadline_policy: str = ""
    first_dispatched_at: int | None = None
    first_accepted_at: int | None = None
    first_contacted_at: int | None = None
    disposed_at: int | None = None
    checked_at: int | None = None
    closed_at: int | None = None
    closure_reason: str = ""
    voided_at: int | None = None
    void_reason: str = ""
    duplicate_of: str = ""
    # The department a case voided before dispatch had been routed to (CaseVoided v2), so it
    # still counts under that department (docs/DESIGN.md §6: imported duplicates).
    routed_to: str = ""
    lead_task: str | None = None
    tasks: dict[str, TaskState] = field(default_factory=dict)
    returns: int = 0
    extensions: int = 0
    escalations: int = 0
    escalation_level: int = 0
    disposals: int = 0
    rework: int = 0
    reopens: int = 0
    feedback_at: int | None = None
    resolved: bool | None = None
    satisfaction: str = ""
    feedback_since_close: bool = False
    # event_digest of each folded event id → body_digest of its first body (UNKNOWN_BODY: not kept)
    seen: dict[int, int] = field(default_factory=dict)

    def clone(self) -> CaseState:
        """A copy that the fold may change without touching ``self`` (tasks are small).

        Built positionally from one C-level attribute fetch: the fold clones once per event,
        and ``copy.copy`` of a slotted dataclass costs several times as much."""
        new = CaseState(*_case_values(self))
        new.tasks = {k: TaskState(*_task_values(t)) for k, t in self.tasks.items()}
        new.seen = dict(self.seen)
        return new

    @property
    def lead(self) -> TaskState | None:
        return self.tasks.get(self.lead_task) if self.lead_task else None

    def to_bytes(self) -> bytes:
        """Compact JSON, written with orjson (the projector serialises every changed case once
        per batch): the document ``json.dumps`` wrote before, task objects in field order
        (orjson writes a dataclass that way), so states stored earlier read back the same."""
        data: dict[str, Any] = dict(zip(_CASE_NAMES, _case_values(self), strict=True))
        data["tasks"] = list(self.tasks.values())
        ids = sorted(self.seen)
        data["seen"] = ids
        data["bodies"] = [self.seen[i] for i in ids]
        data["_format"] = FORMAT
        return orjson.dumps(data)

    @classmethod
    def from_bytes(cls, raw: bytes) -> CaseState:
        data = orjson.loads(raw)
        if data.pop("_format", None) not in READABLE:
            raise ValueError(f"case state format is not one of {READABLE}; rebuild the state by replay")
        tasks = [TaskState(**t) for t in data.pop("tasks")]
        ids = data.pop("seen")
        bodies = data.pop("bodies", None) or [UNKNOWN_BODY] * len(ids)
        seen = dict(zip(ids, bodies, strict=True))
        return cls(**data, tasks={t.task_id: t for t in tasks}, seen=seen)


# Every field in declaration order (= the positional order of the generated __init__).
_CASE_NAMES = tuple(f.name for f in fields(CaseState))
_TASK_NAMES = tuple(f.name for f in fields(TaskState))
_case_values = operator.attrgetter(*_CASE_NAMES)
_task_values = operator.attrgetter(*_TASK_NAMES)


def _task_dict(task: TaskState) -> dict[str, Any]:
    return dict(zip(_TASK_NAMES, _task_values(task), strict=True))


def event_digest(event_id: str) -> int:
    """A 63-bit digest of an event id (fits a JSON number and a signed Int64)."""
    return int.from_bytes(blake2b(event_id.encode(), digest_size=8).digest(), "big") >> 1


def body_digest(raw: bytes) -> int:
    """A 63-bit digest of a message's bytes as read (the single-object encoding: schema
    fingerprint and Avro body), never 0. Avro's binary encoding is deterministic, so the SDK
    encodes the same event to the same bytes: equal digests, the same body. Only whether a
    copy is dead-lettered or ignored rests on it; no copy is ever written (docs/DESIGN.md §6)."""
    return (int.from_bytes(blake2b(raw, digest_size=8, person=b"civicloop-body").digest(), "big") >> 1) or 1


def shown_digest(digest: int) -> str:
    """A body digest as a dead letter shows it ("unknown" for one folded before they were kept)."""
    return f"{digest:016x}" if digest != UNKNOWN_BODY else "unknown"
