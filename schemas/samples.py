"""Stored encodings of every released schema version: ``samples/<Event>/v<N>.bin``.

They are the proof that old data stays readable: tests decode each one with the current
readers. Written once per version and committed; ``write_samples`` never overwrites a file,
so a released sample can only change by deleting it on purpose.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastavro.schema import parse_schema

from .codec import encode_version
from .registry import SchemaVersion, registry

SAMPLES_DIR = Path(__file__).parent / "samples"
SAMPLE_TIME = datetime(2024, 5, 1, 9, 30, 0, 123000, tzinfo=UTC)
# Values a schema cannot suggest; everything else is derived from the field's type.
_OVERRIDES: dict[str, Any] = {"lat": 39.9042, "lon": 116.4074, "level": 2}


def _example(schema: Any, name: str) -> Any:
    if isinstance(schema, list):  # optional fields get a value too, so they are exercised
        return _example(next(b for b in schema if b != "null"), name)
    kind = schema if isinstance(schema, str) else schema["type"]
    if isinstance(schema, dict) and schema.get("logicalType") == "timestamp-millis":
        return SAMPLE_TIME
    if kind == "record":
        return {f["name"]: _example(f["type"], f["name"]) for f in schema["fields"]}
    if kind == "array":  # two items, so order and length are both exercised
        return [_example(schema["items"], f"{name}-{n}") for n in (1, 2)]
    if kind == "map":
        return {f"{name}-key": _example(schema["values"], name)}
    if kind == "enum":
        return schema["symbols"][-1]  # not the default, so a lost symbol would show
    if name in _OVERRIDES:
        return _OVERRIDES[name]
    examples = {
        "string": f"{name}-sample",
        "bytes": name.encode(),
        "boolean": True,
        "int": 1,
        "long": 1,
        "float": 0.5,
        "double": 0.5,
    }
    return examples[kind]


def sample_fields(kept: SchemaVersion) -> dict[str, Any]:
    """Deterministic field values for one schema version (the content of its sample)."""
    fields: dict[str, Any] = _example(parse_schema(kept.schema, {}, expand=True), "")
    key = f"civicloop-sample:{kept.event_type}:v{kept.version}"
    fields["event_id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, key))
    return fields


def sample_path(kept: SchemaVersion, root: Path = SAMPLES_DIR) -> Path:
    return root / kept.event_type / f"v{kept.version}.bin"


def write_samples(root: Path = SAMPLES_DIR) -> list[Path]:
    """Write the sample of every version that has none yet; returns the files written."""
    written = []
    for kept in registry().by_fingerprint.values():
        path = sample_path(kept, root)
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode_version(kept, sample_fields(kept)))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_samples():
        print(path)
