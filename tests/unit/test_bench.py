"""The benchmarks at a tiny size: they run, report every figure, and print what they measured.

No timing thresholds: the figures belong to the machine, the tests only check the shape.
"""

from __future__ import annotations

import json
from collections import Counter

import typer
from typer.testing import CliRunner

from civicloop.cli import bench
from civicloop.schemas.codec import decode
from civicloop.schemas.events import EVENT_TYPES
from civicloop.tools.bench import codec, workload

FIGURES = {"raw_encode", "civicloop_encode", "raw_decode", "civicloop_decode"}


def test_codec_bench_reports_positive_figures_and_ratios() -> None:
    # when the codec benchmark runs on a few hundred events
    result = codec.run(count=300, rounds=1).as_dict()
    # then every figure and ratio is there and positive, with the machine it ran on
    assert set(result["figures"]) == FIGURES
    assert all(f["events"] == 300 and f["events_per_s"] > 0 for f in result["figures"].values())
    assert set(result["ratios"]) == {"encode", "decode"} and all(r > 0 for r in result["ratios"].values())
    assert {"cpu", "cores", "python", "fastavro", "confluent-kafka"} <= set(result["machine"])
    # and whether civicloop's per-event path ran compiled, and why (a pure-Python figure is half)
    per_event = result["machine"]["civicloop"]
    assert per_event.startswith(("compiled (mypyc): ", "pure Python: ")) and len(per_event) > 20


def test_the_workload_is_a_deterministic_mix_of_every_type() -> None:
    first, again = workload.events(3_000), workload.events(3_000)
    assert [e.fields for e in first] == [e.fields for e in again]
    counts = Counter(e.type for e in first)
    assert set(counts) == set(EVENT_TYPES)
    assert counts["CaseReported"] > counts["CaseReopened"]  # shaped like a hotline, not uniform
    assert len({e.event_id for e in first}) == 3_000


def test_the_raw_encoding_is_civicloops_body_without_the_header() -> None:
    # the ceiling must do the same work: the same bytes minus the 10-byte header
    events = workload.events(50)
    for body, message in zip(
        codec.raw_encode(codec.raw_pairs(events)), codec.civicloop_encode(events), strict=True
    ):
        assert message[10:] == body
    assert [decode(m) for m in codec.civicloop_encode(events)] == events


def test_bench_codec_prints_json_for_recording() -> None:
    app = typer.Typer()
    bench.register(app)
    result = CliRunner().invoke(app, ["bench", "codec", "--events", "200", "--rounds", "1", "--json"])
    assert result.exit_code == 0, result.output
    recorded = json.loads(result.stdout)
    assert recorded["command"] == "civicloop bench codec"
    assert set(recorded["figures"]) == FIGURES
