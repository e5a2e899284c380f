"""``civicloop bench produce`` at a tiny size on the real broker: every figure, no topic left."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from civicloop.tools.bench import produce
from tests.conftest import make_config

pytestmark = pytest.mark.integration


def test_bench_produce_reports_every_figure_and_deletes_its_topic(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    config = make_config(tmp_path, kafka_bootstrap=kafka_bootstrap)
    # when the benchmark runs on a few hundred events
    result = produce.run(config, count=300, rounds=1).as_dict()
    # then each figure is positive and every sent event was acknowledged
    assert set(result["figures"]) == {"raw_produce", "raw_encode", "new_event", "civicloop_produce"}
    assert all(f["events_per_s"] > 0 for f in result["figures"].values())
    notes = result["notes"]
    warm_up_and_round = 300 + 300  # the warm-up takes the first 2,000 events, here all 300
    assert notes["acknowledged_raw"] == notes["acknowledged_civicloop"] == warm_up_and_round
    # and its throwaway topic is gone
    topics = AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(timeout=10).topics
    assert not [t for t in topics if t.startswith(f"{config.namespace}.bench-")]
