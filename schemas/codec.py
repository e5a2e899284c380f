"""Avro single-object encoding of events: ``C3 01`` + 8-byte CRC-64-AVRO fingerprint + body.

One fingerprint table covers both contracts of the tree (case events, namespace
``civicloop.events``, and signals, ``civicloop.signals``); each topic's reader accepts only its
own: ``decode`` case events, ``decode_signal`` signals. A record of the other contract is a
``wrong_contract`` DecodeError (dead-lettered like any unreadable message), never a crash.

The fingerprint names the writer schema, so a consumer can read every version ever released:
the body is read with the writer schema it was written with and resolved to the latest
(reader) version of its type. Both parsed schemas are looked up per fingerprint in a table
built once, so the per-event cost is a dict lookup plus fastavro's compiled reader.

Top-level timestamp-millis fields are read as plain longs and turned into datetimes here:
fastavro's logical-type dispatch costs ~2 µs per timestamp, about a third of a whole decode.
The result is identical (UTC-aware datetimes); fingerprints still come from the real schemas.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any, NamedTuple

from fastavro import schemaless_reader, schemaless_writer
from fastavro.schema import parse_schema

from .event import Event
from .loader import NAMESPACE, SIGNALS_NAMESPACE
from .registry import SchemaVersion, registry

MARKER = b"\xc3\x01"
HEADER_SIZE = 10  # marker (2) + fingerprint (8)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TIMESTAMP = {"type": "long", "logicalType": "timestamp-millis"}


class DecodeError(ValueError):
    """Bytes that are not a readable event. ``reason`` is a short machine-readable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason


class _Reader(NamedTuple):
    event_type: str
    version: int
    namespace: str
    writer: Any
    reader: Any  # None when the writer is the latest version: no resolution needed
    timestamps: tuple[str, ...]  # top-level fields read as longs, converted after the read


def _as_long(field_type: Any) -> Any:
    if field_type == _TIMESTAMP:
        return "long"
    if isinstance(field_type, list) and _TIMESTAMP in field_type:
        return ["long" if branch == _TIMESTAMP else branch for branch in field_type]
    return field_type


def _longs_for_timestamps(schema: dict[str, Any]) -> tuple[Any, tuple[str, ...]]:
    """The parsed schema with top-level timestamps as plain longs, and those fields' names."""
    fields = [{**f, "type": _as_long(f["type"])} for f in schema["fields"]]
    pairs = zip(fields, schema["fields"], strict=True)
    names = tuple(new["name"] for new, old in pairs if new["type"] != old["type"])
    return parse_schema({**schema, "fields": fields}, named_schemas={}), names


@functools.cache
def _readers() -> dict[bytes, _Reader]:
    reg = registry()
    table: dict[bytes, _Reader] = {}
    for fp, kept in reg.by_fingerprint.items():
        latest = reg.latest(kept.event_type)
        writer, _ = _longs_for_timestamps(kept.schema)
        reader, timestamps = _longs_for_timestamps(latest.schema)
        resolve = None if latest is kept else reader
        table[fp] = _Reader(kept.event_type, kept.version, kept.namespace, writer, resolve, timestamps)
    return table


def encode_version(kept: SchemaVersion, fields: dict[str, Any]) -> bytes:
    """Encode ``fields`` with one specific schema version (samples of released versions)."""
    out = BytesIO()
    out.write(MARKER)
    out.write(kept.fingerprint)
    try:
        schemaless_writer(out, kept.parsed, fields)
    except Exception as exc:  # fastavro raises TypeError/ValueError/KeyError/... on bad data
        raise ValueError(
            f"cannot encode {kept.event_type} v{kept.version} "
            f"(event_id={fields.get('event_id')!r}): {exc!r}; build events with new_event()"
        ) from exc
    return out.getvalue()


def encode(event: Event) -> bytes:
    """Encode ``event`` with the latest schema version of its type."""
    return encode_version(registry().latest(event.type), event.fields)


def decode(data: bytes) -> Event:
    """Decode one single-object-encoded case event; anything unreadable raises ``DecodeError``
    (a signal, too: ``wrong_contract``)."""
    event_type, fields, version = decode_record(data, NAMESPACE)
    return Event(event_type, fields, version)


def decode_record(data: bytes, namespace: str) -> tuple[str, dict[str, Any], int]:
    """(type, fields, writer version) of one record of the ``namespace`` contract."""
    if len(data) < HEADER_SIZE:
        raise DecodeError("too_short", f"{len(data)} bytes, a header alone is {HEADER_SIZE}")
    if data[:2] != MARKER:
        raise DecodeError("bad_marker", f"starts with {bytes(data[:2]).hex()}, expected c301")
    fp = bytes(data[2:HEADER_SIZE])
    found = _readers().get(fp)
    if found is None:
        raise DecodeError("unknown_fingerprint", f"no kept schema has fingerprint {fp.hex()}")
    if found.namespace != namespace:
        raise DecodeError(
            "wrong_contract",
            f"{found.event_type} is a {found.namespace} record where {namespace} records are read: "
            f"it belongs on the {'signals' if found.namespace == SIGNALS_NAMESPACE else 'case-events'} topic",
        )
    buf = BytesIO(data)
    buf.seek(HEADER_SIZE)
    try:
        fields: dict[str, Any] = schemaless_reader(buf, found.writer, found.reader)  # type: ignore[assignment]
        for name in found.timestamps:
            if fields[name] is not None:
                fields[name] = _EPOCH + timedelta(milliseconds=fields[name])
    except Exception as exc:  # EOFError, IndexError, UnicodeDecodeError, OverflowError, ...
        where = f"{found.event_type} v{found.version} (fingerprint {fp.hex()})"
        raise DecodeError("corrupt_body", f"{where}: {exc!r}") from exc
    if buf.tell() != len(data):
        extra = len(data) - buf.tell()
        raise DecodeError("trailing_bytes", f"{extra} bytes after the {found.event_type} body")
    return found.event_type, fields, found.version
