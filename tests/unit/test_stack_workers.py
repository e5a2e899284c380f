"""Several workers: one consumer group, one HTTP port each, and only on a ClickHouse server."""

from __future__ import annotations

from pathlib import Path

import pytest

from civicloop.tools.local import stack
from tests.conftest import make_config


def test_each_worker_gets_its_own_process_record_and_port(tmp_path: Path) -> None:
    config = make_config(tmp_path, worker_web_port=7000)

    names = [stack.worker_process(config, i).name for i in range(3)]
    ports = [stack.worker_config(config, i).worker_web_port for i in range(3)]

    assert names == ["worker", "worker-2", "worker-3"]
    assert ports == [7000, 7001, 7002]
    assert {stack.worker_config(config, i).consumer_group for i in range(3)} == {config.consumer_group}


def test_down_finds_every_worker_up_started(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    config.var.mkdir(parents=True)
    for name in ("worker-3", "worker-2", "worker-10"):
        (config.var / f"{name}.pid").write_text("0")

    assert [p.name for p in stack.workers(config)] == ["worker", "worker-2", "worker-3", "worker-10"]


def test_several_workers_on_chdb_are_refused_before_anything_starts(tmp_path: Path) -> None:
    config = make_config(tmp_path)  # chdb://…

    with pytest.raises(ValueError, match="--workers 2 needs a ClickHouse server or cluster"):
        stack.up(config, workers=2)

    assert not (config.var / "kafka").exists()
