"""kill -9 of the supervised notifier, again and again, while it delivers: every event reaches
the subscriber at least once, a duplicate carries its event's id, and none is lost (the issue's
figure, 20 kills over 5,000 cases, is measured by hand: docs/NOTIFY.md)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from civicloop.cli import app
from civicloop.config import Config
from civicloop.streams import kafka
from civicloop.tools.local import stack
from civicloop.tools.local.process import wait_until
from tests.support import case_events as ev
from tests.support.receiver import receiver
from tests.support.workers import deployment, produce

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CASES, KILLS = 600, 5


@pytest.fixture
def config(tmp_path: Path, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Config]:
    cfg = deployment(tmp_path, monkeypatch, kafka_bootstrap=kafka_bootstrap)
    kafka.ensure_topics(cfg)
    yield cfg
    stack.notifier_process(cfg).kill()  # the teardown checks nothing


def test_kill_9_mid_delivery_loses_nothing(config: Config) -> None:
    events = [
        e
        for n in range(CASES)
        for e in (ev.reported(ev.at(0), case_id=f"K-{n}"), ev.closed(ev.at(1), case_id=f"K-{n}"))
    ]
    with receiver() as hook:
        added = CliRunner().invoke(app, ["webhook", "add", hook.url])
        assert added.exit_code == 0, added.output
        stack.start_notifier(config)
        produce(config, events)
        killed = []
        for k in range(1, KILLS + 1):
            wait_until(lambda k=k: len(hook.accepted) >= k * len(events) // (KILLS + 1), 120, f"kill {k}")
            pid = stack.kill_notifier_only(config)
            assert pid is not None
            killed.append(pid)
            wait_until(lambda pid=pid: _restarted(config, pid), 60, "the supervisor restarted it")
        wait_until(lambda: set(hook.event_ids()) >= {e.event_id for e in events}, 180, "every event")

    assert len(set(killed)) == KILLS
    received = Counter(hook.event_ids())
    assert set(received) == {e.event_id for e in events}, "none lost, nothing else sent"
    assert all(r.json["event_id"] == r.event_id for r in hook.accepted), "a duplicate keeps its id"
    duplicates = sum(received.values()) - len(received)
    assert duplicates <= KILLS, "at most the delivery in flight at each kill is sent twice"


def _restarted(config: Config, killed: int) -> bool:
    health = stack.notifier_health(config)
    return health is not None and health["pid"] != killed and _alive(health["pid"])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
