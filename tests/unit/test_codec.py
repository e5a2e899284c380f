"""Single-object encoding: round trips, the wire layout, and nothing but DecodeError on bad input."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civicloop.schemas import codec
from civicloop.schemas.codec import DecodeError, decode, encode
from civicloop.schemas.event import Event
from civicloop.schemas.events import EVENT_TYPES
from civicloop.schemas.loader import AVRO_DIR
from civicloop.schemas.registry import Registry, registry, schema_fingerprint
from tests.support.strategies import events


@pytest.mark.parametrize("event_type", EVENT_TYPES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_event_type_round_trips(event_type: str, data: st.DataObject) -> None:
    # given a valid event of this type
    event = data.draw(events((event_type,)))
    # when it is encoded and decoded
    decoded = decode(encode(event))
    # then type, version and every field come back equal
    assert decoded == event


def test_encoding_is_marker_then_little_endian_fingerprint_then_body() -> None:
    # given the sample-like event of a small type
    event = next(iter(_one_of_each()))
    # when encoded
    data = encode(event)
    # then the header is C3 01 + the CRC-64-AVRO fingerprint of the latest schema
    assert data[:2] == b"\xc3\x01"
    assert data[2:10] == registry().latest(event.type).fingerprint


def test_fingerprint_matches_the_avro_reference_values() -> None:
    # given the reference fingerprints from Avro's share/test/data/schema-tests.txt
    # when computed here, then they agree (read as signed little-endian 64-bit, as Java prints)
    assert struct.unpack("<q", schema_fingerprint("null"))[0] == 7195948357588979594
    assert struct.unpack("<q", schema_fingerprint("int"))[0] == 8247732601305521295


@pytest.mark.parametrize(
    ("data", "reason", "shown"),
    [
        (b"\xc3\x01\x00", "too_short", "3 bytes"),
        (b"\x00\x01" + bytes(8) + b"\x00", "bad_marker", "0001"),
        (
            b"\xc3\x01" + bytes.fromhex("deadbeefdeadbeef") + b"\x00",
            "unknown_fingerprint",
            "deadbeefdeadbeef",
        ),
    ],
)
def test_bad_headers_name_the_reason_and_the_offending_value(data: bytes, reason: str, shown: str) -> None:
    # given a malformed header, when decoded, then DecodeError says why and shows the value
    with pytest.raises(DecodeError) as caught:
        decode(data)
    assert caught.value.reason == reason
    assert shown in str(caught.value)


def test_truncated_body_is_corrupt_and_trailing_garbage_is_detected() -> None:
    # given a valid encoding
    data = encode(next(iter(_one_of_each())))
    # when cut short or extended, then each is reported with its own reason
    with pytest.raises(DecodeError) as short:
        decode(data[:-1])
    with pytest.raises(DecodeError) as extended:
        decode(data + b"\x00")
    assert (short.value.reason, extended.value.reason) == ("corrupt_body", "trailing_bytes")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=200))
def test_random_bytes_raise_only_decode_error(data: bytes) -> None:
    _decode_or_decode_error(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=events(), how=st.sampled_from(["flip", "truncate", "extend"]), data=st.data())
def test_mutated_encodings_raise_only_decode_error(event: Event, how: str, data: st.DataObject):
    # given a valid encoding, mutated the way a broken disk or network would
    encoded = bytearray(encode(event))
    if how == "flip":
        at = data.draw(st.integers(0, len(encoded) - 1))
        encoded[at] ^= 1 << data.draw(st.integers(0, 7))
    elif how == "truncate":
        encoded = encoded[: data.draw(st.integers(0, len(encoded) - 1))]
    else:
        encoded += data.draw(st.binary(min_size=1, max_size=16))
    # when decoded, then it decodes or raises DecodeError, never anything else
    _decode_or_decode_error(bytes(encoded))


def _decode_or_decode_error(data: bytes) -> None:
    try:
        decoded = decode(data)
    except DecodeError as err:
        assert err.reason in codec_reasons
    else:
        assert decoded.type in EVENT_TYPES


codec_reasons = {
    "too_short",
    "bad_marker",
    "unknown_fingerprint",
    "wrong_contract",
    "corrupt_body",
    "trailing_bytes",
}


def _one_of_each() -> list[Event]:
    from civicloop.schemas.samples import sample_fields

    reg = registry()
    return [Event(t, sample_fields(reg.latest(t)), reg.latest(t).version) for t in EVENT_TYPES]


@pytest.fixture
def evolved_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Registry:
    """The real tree plus a CaseClosed v2 that adds a field with a default, installed as the
    process registry for the test (caches cleared before and after)."""
    root = tmp_path / "avro"
    shutil.copytree(AVRO_DIR, root)
    v1 = json.loads((root / "CaseClosed" / "v1.avsc").read_text())
    v1["fields"].append({"name": "note", "type": ["null", "string"], "default": None, "doc": "x"})
    (root / "CaseClosed" / "v2.avsc").write_text(json.dumps(v1))
    evolved = Registry.load(root)
    monkeypatch.setattr(codec, "registry", lambda: evolved)
    codec._readers.cache_clear()
    yield evolved
    codec._readers.cache_clear()


def test_old_version_is_read_with_the_latest_reader(evolved_registry: Registry) -> None:
    # given a CaseClosed written with v1 (the stored sample)
    data = (Path(codec.__file__).parent / "samples" / "CaseClosed" / "v1.bin").read_bytes()
    # when decoded while v2 is the latest
    event = decode(data)
    # then it reports writer version 1 and has v2's new field at its default
    assert (event.type, event.version) == ("CaseClosed", 1)
    assert event["note"] is None and event["reason"] == "other"
