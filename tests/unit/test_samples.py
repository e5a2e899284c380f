"""Stored samples of every released version still decode with the current readers."""

from __future__ import annotations

from pathlib import Path

import pytest

from civicloop.schemas.codec import decode_record
from civicloop.schemas.registry import SchemaVersion, registry
from civicloop.schemas.samples import SAMPLES_DIR, sample_fields, sample_path, write_samples

KEPT = sorted(registry().by_fingerprint.values(), key=lambda k: (k.event_type, k.version))


@pytest.mark.parametrize("kept", KEPT, ids=lambda k: f"{k.event_type}-v{k.version}")
def test_stored_sample_decodes_with_the_current_reader(kept: SchemaVersion) -> None:
    # given the committed sample of this version (written when the version was released)
    path = sample_path(kept)
    assert path.exists(), f"no sample for {kept.event_type} v{kept.version}: run write_samples()"
    # when decoded with today's readers
    # (case events by the case topic's reader, signals by the signals topic's)
    event_type, fields, version = decode_record(path.read_bytes(), kept.namespace)
    # then it is that type and version, and every field the reader still has kept its value
    assert (event_type, version) == (kept.event_type, kept.version)
    written = sample_fields(kept)
    kept_fields = {k: v for k, v in written.items() if k in fields}
    assert kept_fields == {k: fields[k] for k in kept_fields}


def test_every_stored_sample_belongs_to_a_kept_version() -> None:
    # a sample whose schema was edited in place would no longer match any fingerprint
    stored = sorted(SAMPLES_DIR.glob("*/v*.bin"))
    assert {p for p in stored} == {sample_path(k) for k in KEPT}


def test_write_samples_never_overwrites(tmp_path: Path) -> None:
    # given samples written once into an empty directory
    first = write_samples(tmp_path)
    marker = first[0].read_bytes() + b"!"
    first[0].write_bytes(marker)
    # when written again, then nothing is rewritten and existing files are untouched
    assert write_samples(tmp_path) == []
    assert first[0].read_bytes() == marker
    assert len(first) == len(KEPT)
