"""Signals are readable by Apache Avro's Java library, the reference implementation: its
``BinaryMessageDecoder`` checks the single-object header and finds the schema by its own
CRC-64-AVRO fingerprint, so this also proves civicloop's fingerprints are Avro's."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from civicloop.schemas.registry import registry
from civicloop.schemas.signals import SIGNAL_TYPES, encode_signal
from tests.support import avro_java
from tests.unit.test_signal_schemas import ALL

pytestmark = pytest.mark.integration
CACHE = Path(os.environ.get("CIVICLOOP_CACHE", "~/.cache/civicloop")).expanduser()


@pytest.mark.parametrize("signal_type", SIGNAL_TYPES)
def test_apache_avro_java_decodes_every_signal(signal_type: str, tmp_path: Path) -> None:
    # given two signals of this type as civicloop writes them to the signals topic
    signals = [ALL[signal_type](), ALL[signal_type]()]
    # when Apache Avro (Java) decodes them with the .avsc alone
    records = avro_java.read(
        CACHE, registry().latest(signal_type).schema, [encode_signal(s) for s in signals], tmp_path
    )
    # then every field reads back as civicloop wrote it (times as epoch milliseconds)
    assert records == [_as_java(s.fields) for s in signals]


def _as_java(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: int(v.timestamp() * 1000) if hasattr(v, "timestamp") else v for k, v in fields.items()}
