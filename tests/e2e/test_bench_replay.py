"""``civicloop bench replay`` at a tiny size on the real broker and chDB: every figure, the
cases it projected, and nothing left behind on the broker."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from civicloop.config import Config
from civicloop.tools.bench import broker, replay
from civicloop.tools.bench.broker import throwaway
from tests.conftest import PARALLEL_FOLD, make_config

pytestmark = pytest.mark.integration


def test_bench_replay_reports_both_figures_and_deletes_its_topics(
    tmp_path: Path, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config(tmp_path, kafka_bootstrap=kafka_bootstrap, fold_processes=PARALLEL_FOLD)
    used: list[Config] = []

    def recorded(*args: object) -> Config:
        used.append(throwaway(*args))  # type: ignore[arg-type]
        return used[-1]

    monkeypatch.setattr(broker, "throwaway", recorded)
    # when the benchmark replays 3,000 simulated events into chDB
    result = replay.run(config, count=3_000).as_dict()
    # then both figures are positive, every event was replayed and every case projected
    figures, notes = result["figures"], result["notes"]
    assert set(figures) == {"raw_consume", "replay"}
    assert all(f["events"] == 3_000 and f["events_per_s"] > 0 for f in figures.values())
    assert result["ratios"]["replay_vs_ceiling"] > 0
    assert notes["replay_phase"] == "done" and notes["replay_peak_rss_mb"] > 0
    assert " MB during " in notes["replay_rss_peak_sampled"]  # where the peak was: phase, events
    # and the fold processes' peak is theirs, seen while they ran (0 only with none running)
    assert (notes["fold_process_peak_rss_mb"] > 0) == (notes["fold_processes"] > 1)
    assert notes["cases_projected"] == notes["cases_simulated"] > 300
    # and its throwaway topics are gone from the broker
    topics = AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(timeout=10).topics
    assert not [t for t in topics if t.startswith(f"{used[0].namespace}.")]
