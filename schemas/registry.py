"""Every kept version of every event, indexed by its CRC-64-AVRO fingerprint.

Loaded once per process (``registry()``): the schemas are package data and immutable, so the
cache can never go stale while the process runs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastavro.schema import fingerprint, parse_schema, to_parsing_canonical_form

from .loader import AVRO_DIR, NAMESPACE, load_tree


@dataclass(frozen=True, slots=True)
class SchemaVersion:
    """One version of one event type: the self-contained schema and its parsed form."""

    event_type: str
    version: int
    schema: dict[str, Any]
    parsed: Any
    fingerprint: bytes  # 8 bytes, little-endian: exactly as they follow C3 01 on the wire

    @property
    def namespace(self) -> str:
        """The contract the record belongs to: ``civicloop.events`` (case events, the case
        topic) or ``civicloop.signals`` (signals, the signals topic)."""
        return str(self.schema.get("namespace", NAMESPACE))

    @property
    def fields(self) -> list[dict[str, Any]]:
        fields: list[dict[str, Any]] = self.parsed["fields"]
        return fields


def schema_fingerprint(schema: dict[str, Any]) -> bytes:
    """CRC-64-AVRO (Rabin) fingerprint of the Parsing Canonical Form, in wire byte order."""
    # fastavro returns the hex of the little-endian bytes, the order single-object encoding uses.
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))


def _version(event_type: str, version: int, schema: dict[str, Any]) -> SchemaVersion:
    parsed = parse_schema(schema, named_schemas={})
    return SchemaVersion(event_type, version, schema, parsed, schema_fingerprint(schema))


class Registry:
    """Fingerprint -> writer schema, and the latest (reader) version of each event type."""

    def __init__(self, tree: dict[str, dict[int, dict[str, Any]]]) -> None:
        self._versions = {
            event_type: {n: _version(event_type, n, s) for n, s in versions.items()}
            for event_type, versions in tree.items()
        }
        self.by_fingerprint: dict[bytes, SchemaVersion] = {}
        for versions in self._versions.values():
            for kept in versions.values():
                clash = self.by_fingerprint.setdefault(kept.fingerprint, kept)
                if clash is not kept:  # two files with one canonical form would decode ambiguously
                    raise ValueError(
                        f"{kept.event_type} v{kept.version} and {clash.event_type} "
                        f"v{clash.version} have the same fingerprint {kept.fingerprint.hex()}"
                    )

    @classmethod
    def load(cls, root: Path = AVRO_DIR) -> Registry:
        return cls(load_tree(root))

    @property
    def event_types(self) -> tuple[str, ...]:
        return tuple(self._versions)

    def types_in(self, namespace: str) -> tuple[str, ...]:
        """The record types of one contract (``civicloop.events`` or ``civicloop.signals``)."""
        return tuple(t for t in self._versions if self.latest(t).namespace == namespace)

    def versions(self, event_type: str) -> dict[int, SchemaVersion]:
        try:
            return self._versions[event_type]
        except KeyError:
            known = ", ".join(self._versions)
            raise KeyError(f"unknown event type {event_type!r}; known: {known}") from None

    def latest(self, event_type: str) -> SchemaVersion:
        versions = self.versions(event_type)
        return versions[max(versions)]


@functools.cache
def registry() -> Registry:
    """The registry of the installed schema tree, loaded on first use."""
    return Registry.load(AVRO_DIR)


@functools.cache
def reader_schema(event_type: str) -> dict[str, Any]:
    """The latest version of ``event_type`` with every named type expanded in place (for
    walking the schema without a name table: validation, JSON conversion, test strategies)."""
    expanded: dict[str, Any] = parse_schema(  # type: ignore[assignment]  # a record: a dict
        registry().latest(event_type).schema, named_schemas={}, expand=True
    )
    return expanded


def _branches(field_type: Any) -> list[Any]:
    return field_type if isinstance(field_type, list) else [field_type]


@functools.cache
def required_fields(event_type: str) -> tuple[str, ...]:
    """Top-level fields of the latest ``event_type`` that can never be null (no ``"null"``
    branch): derived from the ``.avsc``, so the fold's well-formedness guard never restates it."""
    return tuple(f["name"] for f in reader_schema(event_type)["fields"] if "null" not in _branches(f["type"]))


@functools.cache
def time_fields(event_type: str) -> tuple[str, ...]:
    """Top-level ``timestamp-millis`` fields of the latest ``event_type`` (nullable or not)."""
    return tuple(
        f["name"]
        for f in reader_schema(event_type)["fields"]
        if any(
            isinstance(b, dict) and b.get("logicalType") == "timestamp-millis" for b in _branches(f["type"])
        )
    )
