"""``civicloop bench live`` at a tiny size: a real worker, throughput and latency figures, and
the worker stopped afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest

from civicloop.tools.bench import live
from tests.conftest import make_config

pytestmark = pytest.mark.integration


def test_bench_live_reports_throughput_and_latency(
    tmp_path: Path, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "WARM_UP", 200)
    config = make_config(tmp_path, kafka_bootstrap=kafka_bootstrap)
    # when the benchmark runs a worker on 2,000 events, then 2 s at 500 events/s
    result = live.run(config, count=2_000, rate=500, seconds=2).as_dict()
    # then every figure is positive and each paced event has a latency
    figures, notes = result["figures"], result["notes"]
    assert set(figures) == {"raw_consume", "worker", "paced"}
    assert figures["worker"]["events"] == 2_000 and figures["paced"]["events"] == 1_000
    assert all(f["events_per_s"] > 0 for f in figures.values())
    assert 0 < notes["latency_p50_ms"] <= notes["latency_p99_ms"] <= notes["latency_max_ms"]
    # and the worker counted each paced event once, under the bound the slow polls put on it
    # (its clock reads a moment after the marker a poll sees: allow that moment and a bucket)
    assert notes["latency_events_counted"] == 1_000
    assert notes["latency_p99_ms"] <= notes["latency_p99_upper_bound_ms"] + 100
    # (a message Faust delivers twice is skipped, not projected again: at most, not exactly)
    assert 0 < notes["worker_projected"] <= 200 + 2_000 + 1_000 and notes["worker_dead_letters"] == 0
