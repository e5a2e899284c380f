"""The short version of `civicloop bench chaos`: two supervised workers on the session's
ClickHouse server, a broker of the bench's own, kill -9 of workers and both kinds of broker
restart while a small city flows — then every table (the signals the workers raised included)
and metric equals a clean run, exactly the asked events were produced, the databases are kept
when asked, and every failure was recovered (the time it took is the benchmark's to report, not
this test's)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from civicloop.projections.backend import open_store
from civicloop.tools.bench.chaos import run
from civicloop.tools.bench.chaos_report import Plan
from tests.conftest import PARALLEL_FOLD, make_config

pytestmark = pytest.mark.integration


def test_chaos_leaves_no_difference(
    tmp_path, clickhouse_server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the bench uses the configured server (and keeps its databases, as asked)
    monkeypatch.setenv("CIVICLOOP_CLICKHOUSE_URL", clickhouse_server_url)
    plan = Plan(
        workers=2, partitions=3, events=2_500, rate=100, kills=2, broker_restarts=2, seed=3, keep=True
    )

    # a small city: two cases of a category in one grid cell within 30 days are a recurring
    # problem, so that both runs raise signals to compare
    report = run(replace(make_config(tmp_path, fold_processes=PARALLEL_FOLD), recurring_cases=2), plan)

    assert report.differences == []  # signals included: checksums.KEYS names the signals table
    assert report.signals["chaos"] == report.signals["clean"] > 0, report.signals
    assert report.events == plan.events  # bounded by --events
    reader = open_store(clickhouse_server_url)
    try:  # both databases kept, with the same signal ids (read here, not by the bench)
        ids = [
            reader.query(f"SELECT event_id FROM {db}.signals FINAL ORDER BY event_id")
            for db in report.databases
        ]
        assert len(ids) == 2 and ids[0] == ids[1] and len(ids[0]) == report.signals["clean"]
    finally:
        for db in report.databases:
            reader.command(f"DROP DATABASE IF EXISTS {db}")
        reader.close()
    kinds = sorted(action.kind for action in report.actions)
    assert kinds == ["broker-graceful", "broker-kill", "kill", "kill"]
    for action in report.actions:  # each failure was recovered: its partitions project again
        assert action.recovery_s is not None or action.note.startswith("held no partitions"), action
    assert sum(report.restarts.values()) == plan.kills  # the supervisors restarted each killed worker
