"""The notifier's webhooks on the real broker, with loopback receivers: every matching event
delivered signed, in case order, at least once; a failing subscriber retried without delaying
the others; deliveries that keep failing listed and retried by hand; a re-read of the log (a
new consumer group, as after a replay or an offset reset) sends nothing again."""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from civicloop.cli import app
from civicloop.config import Config
from civicloop.schemas.event import Event
from civicloop.streams import kafka
from civicloop.streams.notify.notifier import Notifier
from civicloop.streams.notify.store import NotifyStore
from civicloop.tools.local.process import wait_until
from tests.support import case_events as ev
from tests.support.receiver import Received, receiver
from tests.support.workers import deployment, produce

pytestmark = pytest.mark.integration


@pytest.fixture
def config(tmp_path: Path, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> Config:
    cfg = deployment(tmp_path, monkeypatch, kafka_bootstrap=kafka_bootstrap)
    kafka.ensure_topics(cfg)
    return cfg


class Running:
    def __init__(self, config: Config, group: str | None = None) -> None:
        self.notifier = Notifier(config, group=group)
        self.thread = threading.Thread(target=self.notifier.run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.notifier.stopping.set()
        self.thread.join(30)
        assert not self.thread.is_alive()


@pytest.fixture
def notifier(config: Config) -> Iterator[Running]:
    running = Running(config)
    yield running
    running.stop()


def city(cases: int) -> list[Event]:
    """Each case reported, registered, dispatched (roads or parks leading) and closed."""
    events = []
    for n in range(cases):
        case, dept = f"N-{n}", "parks" if n % 3 == 0 else "roads"
        events += [
            ev.reported(ev.at(0), case_id=case),
            ev.registered(ev.at(0.1), case_id=case),
            ev.dispatched(ev.at(0.2), case_id=case, dept=dept, task_id=f"{case}-T"),
            ev.closed(ev.at(5), case_id=case),
        ]
    return events


def subscribe(url: str, *options: str) -> tuple[str, str]:
    """(subscription id, secret) from the CLI's own output."""
    result = CliRunner().invoke(app, ["webhook", "add", url, *options])
    assert result.exit_code == 0, result.output
    # By the lines' own words: the output may carry log lines too (stderr is mixed in, and an
    # earlier test may have turned the log level up), so no line is taken by its position.
    sub_id = re.search(r"^subscription (wh\w+): ", result.output, re.MULTILINE)
    secret = re.search(r"^secret \(shown once\): (\S+)$", result.output, re.MULTILINE)
    assert sub_id and secret, result.output
    return sub_id.group(1), secret.group(1)


def signed(secret: str, got: Received) -> bool:
    """The receiver's recipe of docs/NOTIFY.md, written here from the doc."""
    mac = hmac.new(secret.encode(), got.timestamp.encode() + b"." + got.body, hashlib.sha256)
    return hmac.compare_digest("sha256=" + mac.hexdigest(), got.signature)


def in_case_order(received: list[str], events: list[Event]) -> bool:
    """Each case's events arrive in the order of the log (first arrival of each id)."""
    first = list(dict.fromkeys(received))
    for case in {e.case_id for e in events}:
        want = [e.event_id for e in events if e.case_id == case]
        if [i for i in first if i in want] != want:
            return False
    return True


def test_a_failing_subscriber_is_retried_in_order_and_delays_no_other(
    config: Config, notifier: Running
) -> None:
    events = city(12)
    with receiver(healthy=False) as flaky, receiver() as steady, receiver() as parks:
        _, flaky_secret = subscribe(flaky.url)
        _, steady_secret = subscribe(steady.url, "--events", "*")
        subscribe(parks.url, "--events", "CaseClosed,CaseReported", "--department", "parks")
        produce(config, events)

        wait_until(lambda: len(steady.accepted) >= len(events), 60, "the steady subscriber served")
        assert flaky.accepted == [] and flaky.refused >= 1, "the flaky one failed meanwhile"
        flaky.healthy.set()  # the outage ends
        wait_until(lambda: len(flaky.accepted) >= len(events), 90, "the flaky subscriber served")

        for got, secret in ((flaky, flaky_secret), (steady, steady_secret)):
            assert set(got.event_ids()) == {e.event_id for e in events}
            assert in_case_order(got.event_ids(), events)
            unsigned = [
                (r.event_id, r.timestamp, r.signature, r.body[:60])
                for r in got.accepted
                if not signed(secret, r)
            ]
            assert unsigned == [], f"deliveries the subscription's secret did not sign: {unsigned}"
            assert all(r.json["event_id"] == r.event_id for r in got.accepted)
        assert all(not signed(steady_secret, r) for r in flaky.accepted), "each its own secret"
        assert "contact_ciphertext" not in steady.accepted[0].json["data"]
        # parks: only closures of the cases parks leads (its report came before any dispatch)
        parks_closed = {e.event_id for e in events if e.type == "CaseClosed" and int(e.case_id[2:]) % 3 == 0}
        wait_until(lambda: set(parks.event_ids()) == parks_closed, 30, "parks served")
        assert {r.json["department"] for r in parks.accepted} == {"parks"}


def test_deliveries_that_keep_failing_are_listed_and_retried_in_order(config: Config, tmp_path: Path) -> None:
    config = replace(config, notify_retry_for=0)  # the first failure gives up
    events = city(3)
    with receiver(healthy=False) as down:
        sub_id, _ = subscribe(down.url)
        running = Running(config)
        try:
            produce(config, events)
            store = NotifyStore(config.notify_db)
            wait_until(lambda: len(store.failures()) == len(events), 60, "every delivery failed")
            listed = CliRunner().invoke(app, ["webhook", "failures"])
            assert listed.exit_code == 0 and f"webhook:{sub_id}" in listed.output
            assert "HTTP 500" in listed.output

            down.healthy.set()
            again = CliRunner().invoke(app, ["webhook", "retry", sub_id])
            assert again.exit_code == 0 and f"{len(events)} deliveries queued again" in again.output
            wait_until(lambda: len(down.accepted) == len(events), 60, "the retried deliveries")
            assert sorted(down.event_ids()) == sorted(e.event_id for e in events)
            assert in_case_order(down.event_ids(), events), "in their original order"
            assert store.failures() == []
        finally:
            running.stop()


def test_reading_the_log_again_sends_nothing_again(config: Config) -> None:
    events = city(4)
    with receiver() as hook:
        subscribe(hook.url)
        first = Running(config)
        produce(config, events)
        wait_until(lambda: len(hook.accepted) == len(events), 60, "first delivery")
        first.stop()

        # A new consumer group reads the whole log again (an offset reset, a replay's re-read)
        again = Running(config, group=config.notifier_group + "-again")
        try:
            sentinel = ev.reported(ev.at(0), case_id="N-sentinel")
            produce(config, [sentinel])
            wait_until(lambda: sentinel.event_id in hook.event_ids(), 60, "the sentinel delivered")
            wanted = [e.event_id for e in events] + [sentinel.event_id]
            assert sorted(hook.event_ids()) == sorted(wanted), "each once: none sent again"
        finally:
            again.stop()
