"""``civicloop bench codec``: civicloop's encode/decode against bare fastavro on the same events.

The ceiling is fastavro's ``schemaless_writer``/``schemaless_reader`` with the schema already
in hand: no header, no fingerprint lookup, no resolution. civicloop's ``encode`` adds the
single-object header; ``decode`` adds the fingerprint lookup and, for old versions, resolution.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

from fastavro import schemaless_reader, schemaless_writer

from civicloop.schemas.codec import HEADER_SIZE, decode, encode
from civicloop.schemas.event import Event
from civicloop.schemas.registry import registry
from civicloop.tools.bench import workload
from civicloop.tools.bench.report import Ratio, Result, timed

Pair = tuple[Any, dict[str, Any]]  # (parsed schema, fields)
RATIOS = [
    Ratio("encode", "encode: civicloop / fastavro", "civicloop_encode", "raw_encode"),
    Ratio("decode", "decode: civicloop / fastavro", "civicloop_decode", "raw_decode"),
]


def raw_pairs(events: list[Event]) -> list[Pair]:
    """Each event with its parsed schema, looked up before the clock starts."""
    return [(registry().latest(e.type).parsed, e.fields) for e in events]


def raw_encode(pairs: list[Pair]) -> list[bytes]:
    out = []
    for schema, fields in pairs:
        buf = BytesIO()  # one buffer per event: a Kafka message is one bytes object each
        schemaless_writer(buf, schema, fields)
        out.append(buf.getvalue())
    return out


def raw_decode(pairs: list[Pair], bodies: list[bytes]) -> None:
    for (schema, _), body in zip(pairs, bodies, strict=True):
        schemaless_reader(BytesIO(body), schema, None)


def civicloop_encode(events: list[Event]) -> list[bytes]:
    return [encode(e) for e in events]


def civicloop_decode(messages: list[bytes]) -> None:
    for data in messages:
        decode(data)


def run(count: int = 200_000, rounds: int = 3, seed: int = 12345) -> Result:
    """Time each loop over ``count`` events; each figure is the fastest of ``rounds``."""
    events = workload.events(count, seed)
    pairs = raw_pairs(events)
    _warm_up(events[:2_000], pairs[:2_000])
    bodies, messages = raw_encode(pairs), civicloop_encode(events)  # the inputs of the decoders
    figures = timed(
        count,
        {
            "raw_encode": ("fastavro schemaless_writer (ceiling)", lambda: raw_encode(pairs)),
            "civicloop_encode": ("civicloop encode", lambda: civicloop_encode(events)),
            "raw_decode": ("fastavro schemaless_reader (ceiling)", lambda: raw_decode(pairs, bodies)),
            "civicloop_decode": ("civicloop decode", lambda: civicloop_decode(messages)),
        },
        rounds,
    )
    notes = {
        "rounds": rounds,
        "mean_message_bytes": round(sum(map(len, messages)) / count, 1),
        "header_bytes": HEADER_SIZE,
        "event_types": len({e.type for e in events}),
    }
    return Result("civicloop bench codec", figures, RATIOS, notes)


def _warm_up(events: list[Event], pairs: list[Pair]) -> None:
    # First calls build fastavro's and civicloop's per-schema tables; keep that off the clock.
    civicloop_decode(civicloop_encode(events))
    raw_decode(pairs, raw_encode(pairs))
