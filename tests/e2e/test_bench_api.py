"""``civicloop bench api`` at a tiny size on the real broker: wrk drives a real API with one and
with two processes, every figure is positive, every successful POST is an event, and no topic
is left behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from civicloop.tools.bench import api
from tests.conftest import make_config

pytestmark = pytest.mark.integration


def test_bench_api_reports_requests_latency_and_the_sdk_ceiling(tmp_path: Path, kafka_bootstrap: str) -> None:
    config = make_config(tmp_path, kafka_bootstrap=kafka_bootstrap)
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    before = set(admin.list_topics(timeout=10).topics)
    # when the benchmark runs for two seconds at four connections, with one and two API processes
    result = api.run(config, seconds=2, concurrency=4, threads=1, sdk_events=200, workers=2).as_dict()
    # then every figure and ratio is there, with wrk's latency percentiles for each run
    assert set(result["figures"]) == {"open311_post", "open311_post_workers", "sdk_produce"}
    assert all(f["events_per_s"] > 0 for f in result["figures"].values())
    assert result["ratios"]["api_vs_sdk"] > 0 and result["ratios"]["api_workers_vs_sdk"] > 0
    assert result["notes"]["api_processes"] == [1, 2]
    for latency in result["notes"]["latency_ms"].values():
        assert set(latency) == {"p50", "p75", "p90", "p99"} and latency["p50"] <= latency["p99"]
    assert result["notes"]["non_2xx"] == 0  # and run() checked one event per successful POST
    # and its throwaway topics are gone
    after = set(admin.list_topics(timeout=10).topics)
    assert not [t for t in after - before if t.startswith("bench")]
