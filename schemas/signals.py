"""Signals: surges, their end, recurring problems — records of their own contract.

They live in the same ``.avsc`` tree as the case events (same loader, registry, samples and
evolution guard) under the namespace ``civicloop.signals``, and travel on their own topic
(``<ns>.signals``). They are not case events: they have no case, the case fold never sees
them, and ``codec.decode`` refuses them (``wrong_contract``) as ``decode_signal`` refuses case
events. Ids are deterministic (uuid5 of kind, cell and window), so whoever raises a signal
again — a restarted worker, a replay, a second worker — raises the same event (docs/SIGNALS.md).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .codec import decode_record, encode_version
from .loader import SIGNALS_NAMESPACE
from .registry import reader_schema, registry
from .validate import EventValidationError, check_record

# Tests check that these and EVENT_TYPES together name exactly the folders under avro/.
SIGNAL_TYPES: tuple[str, ...] = ("SurgeDetected", "SurgeEnded", "RecurringProblemDetected")
SOURCE = "civicloop-signals/1"
_IDS = uuid.UUID("3b0f5d0e-6a4c-4c39-9d53-2f6b1f0c8a11")


@dataclass(frozen=True, slots=True)
class Signal:
    """One signal: ``type`` is the Avro record name, ``fields`` the record."""

    type: str
    fields: dict[str, Any] = field(hash=False)
    version: int = 1

    @property
    def event_id(self) -> str:
        return str(self.fields["event_id"])

    @property
    def key(self) -> str:
        """The Kafka key: the signal's cell, so one cell's signals stay in order."""
        f = self.fields
        return f"{f.get('level', 'grid')}/{f['category']}/{f['place']}"

    def __getitem__(self, name: str) -> Any:
        return self.fields[name]


def signal_id(kind: str, *parts: object) -> str:
    """The one event id of a signal: uuid5 over its kind and what identifies it (cell, window)."""
    return str(uuid.uuid5(_IDS, "/".join([kind, *(_part(p) for p in parts)])))


def _part(value: object) -> str:
    if isinstance(value, datetime):
        return str(int(value.timestamp()))
    return str(value)


def new_signal(type: str, **fields: Any) -> Signal:
    """A validated signal of the latest version of ``type``; raises ``EventValidationError``.
    ``recorded_at`` defaults to now, ``source`` to this release of the detector."""
    if type not in SIGNAL_TYPES:
        raise EventValidationError("type", type, "unknown_type", f"one of {', '.join(SIGNAL_TYPES)}")
    fields.setdefault("recorded_at", datetime.now(UTC))
    fields.setdefault("source", SOURCE)
    try:
        checked = check_record(reader_schema(type), fields)
    except EventValidationError as err:
        err.args = (f"{type}.{err.args[0]}",)
        raise
    return Signal(type, checked, registry().latest(type).version)


def encode_signal(signal: Signal) -> bytes:
    """Single-object encoding with the latest version of the signal's type."""
    return encode_version(registry().latest(signal.type), signal.fields)


def decode_signal(data: bytes) -> Signal:
    """Decode one signal; anything else (case events included) raises ``DecodeError``."""
    signal_type, fields, version = decode_record(data, SIGNALS_NAMESPACE)
    return Signal(signal_type, fields, version)


def signal_to_json(signal: Signal) -> dict[str, Any]:
    """The JSON form of ``signal`` (times as ISO-8601 UTC), with its type."""
    from .jsonform import to_json_value

    schema = {f["name"]: f["type"] for f in reader_schema(signal.type)["fields"]}
    return {"type": signal.type, **{k: to_json_value(schema[k], v) for k, v in signal.fields.items()}}
