"""The loop closed with the citizen, end to end: a real broker, worker, API and notifier, a
local SMTP server and Chromium. The reporter of a closed case gets one "received" and one
"closed" e-mail; the link in it, followed in the browser, rates 4 and moves the department's
satisfaction rate as docs/DESIGN.md §5 defines it; the link used again, altered or expired
produces nothing; an erased reporter gets nothing; a replay sends nothing again."""

from __future__ import annotations

import email
import json
import re
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from selenium.webdriver.common.by import By
from typer.testing import CliRunner

from civicloop.cli import app
from civicloop.config import Config
from civicloop.privacy import KeyStore, seal
from civicloop.projections.metrics.closed_loop import metrics
from civicloop.schemas.codec import decode
from civicloop.schemas.event import Event
from civicloop.streams.notify.notifier import Notifier
from civicloop.streams.notify.reporter import adapters
from civicloop.streams.notify.store import NotifyStore
from civicloop.tools.local import api_server
from civicloop.tools.local.process import free_port, wait_until
from tests.support import case_events as ev
from tests.support.browser import chromium, requested
from tests.support.workers import Worker, deployment, produce, wait_projected

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=default))  # type: ignore[arg-type]
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in list(self.messages) if m["To"] == address]


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


@pytest.fixture
def loop(
    tmp_path: Path, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch, mailbox: tuple[Mailbox, int]
) -> Iterator[Config]:
    config = deployment(
        tmp_path,
        monkeypatch,
        kafka_bootstrap=kafka_bootstrap,
        watchdog_interval=0,
        signals_interval=0,
        smtp_host="127.0.0.1",
        smtp_port=mailbox[1],
        smtp_from="loop@civicloop.test",
    )
    worker = Worker(config).start()
    api_server.start_api(config)
    notifier = Notifier(config, adapters(config))
    thread = threading.Thread(target=notifier.run, daemon=True)
    thread.start()
    try:
        yield config
    finally:
        notifier.stopping.set()
        thread.join(30)
        api_server.api_process(config).stop(timeout=30)
        worker.kill()  # teardown: stopping gracefully is test_shutdown's


def reported(config: Config, case_id: str, ref: str, contact: dict[str, str]) -> Event:
    keys = KeyStore(config.keystore)
    try:
        sealed, key_id = seal(keys, ref, json.dumps(contact))
    finally:
        keys.close()
    return ev.event(
        "CaseReported",
        ev.at(0),
        case_id,
        channel="web",
        category="roads",
        description="pothole",
        location={"lat": 39.3, "lon": -76.6, "address": None, "grid_id": "G1", "district": "D1"},
        priority="normal",
        reporter_ref=ref,
        contact_ciphertext=sealed,
        contact_key_id=key_id,
    )


def handled(case_id: str) -> list[Event]:
    """Registered, dispatched to roads, accepted, disposed, checked and closed."""
    task = f"{case_id}-T"
    return [
        ev.registered(ev.at(0.1), case_id=case_id),
        ev.dispatched(ev.at(0.2), case_id=case_id, task_id=task, dept="roads"),
        ev.task_event("TaskAccepted", ev.at(0.3), task, case_id),
        ev.task_event("TaskDisposed", ev.at(5), task, case_id, outcome="fixed"),
        ev.checked(ev.at(6), case_id=case_id),
        ev.closed(ev.at(7), case_id=case_id),
    ]


def roads_satisfaction(worker: Worker, config: Config) -> Any:
    rows = metrics(worker.reader().query, config.database, "department")
    found = [r for r in rows if r["group"] == "roads"]
    assert found, rows
    return found[0]["satisfaction_rate"]


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def feedback_events(worker: Worker, config: Config, case_id: str) -> list[tuple[Any, ...]]:
    db = config.database
    return worker.reader().query(
        f"SELECT hex(payload) FROM {db}.event_log FINAL WHERE case_id = %(c)s AND type = 'FeedbackReceived'",
        {"c": case_id},
    )


def test_the_reporter_is_told_and_rates_through_the_link(loop: Config, mailbox: tuple[Mailbox, int]) -> None:
    config, box, worker = loop, mailbox[0], Worker(loop)
    alice = "alice@example.org"
    sent = produce(config, [reported(config, "L-1", "rp-alice", {"email": alice}), *handled("L-1")])

    wait_until(lambda: len(box.to(alice)) >= 2, 60, "two messages to the reporter")
    received, closed = box.to(alice)
    assert "L-1" in received["Subject"] and "received" in received["Subject"]
    assert "closed" in closed["Subject"]
    assert closed.get_body(preferencelist=("html",)) is not None, "plain text and HTML"
    link = re.search(r"http://\S+/feedback/\S+", text_of(closed))
    assert link is not None
    url = link.group(0)
    wait_projected(config, sent, 60)
    assert roads_satisfaction(worker, config) is None, "no feedback yet: a null rate"

    with chromium() as browser:
        browser.get(url)
        browser.find_element(By.ID, "rating-4").click()
        browser.find_element(By.ID, "resolved-yes").click()
        browser.find_element(By.ID, "comment").send_keys("Fixed <quickly>, thanks — 谢谢")
        browser.find_element(By.ID, "send").click()
        assert "Thank you" in browser.find_element(By.ID, "message").text
        wait_until(lambda: roads_satisfaction(worker, config) == 1.0, 60, "the rating counted")

        browser.get(url)  # the same link again
        assert "already been rated" in browser.find_element(By.ID, "message").text
        browser.get(url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB"))  # altered
        assert "not valid" in browser.find_element(By.ID, "message").text
        browser.get(f"{url.rsplit('/', 1)[0]}/{_expired_token(config)}")
        assert "expired" in browser.find_element(By.ID, "message").text
        leaving = [u for u in requested(browser) if not u.startswith(api_server.api_url(config))]
        assert leaving == [] or all(u.startswith(("data:", "about:")) for u in leaving)

    # nothing more came of the reuse, the forgery and the expired link
    sentinel = ev.reported(ev.at(0), case_id="L-sentinel")
    wait_projected(config, produce(config, [sentinel]), 60)
    [(payload,)] = feedback_events(worker, config, "L-1")
    rated = decode(bytes.fromhex(payload))
    assert (rated["rating"], rated["satisfaction"], rated["resolved"]) == (4, "satisfied", True)
    assert rated["comment"] == "Fixed <quickly>, thanks — 谢谢"
    assert roads_satisfaction(worker, config) == 1.0

    # an erased reporter gets nothing (the erasure comes after the report, before the closure)
    bob = "bob@example.org"
    produce(config, [reported(config, "L-2", "rp-bob", {"email": bob, "language": "zh"})])
    wait_until(lambda: len(box.to(bob)) == 1, 60, "bob's received message")
    assert "已受理" in box.to(bob)[0]["Subject"], "in the reporter's language"
    erased = CliRunner().invoke(app, ["erase", "rp-bob"])
    assert erased.exit_code == 0, erased.output
    produce(config, handled("L-2"))
    store = NotifyStore(config.notify_db)
    wait_until(lambda: store.counts("email").get("skipped", 0) == 1, 60, "bob's closure handled")
    assert len(box.to(bob)) == 1

    # a replay rebuilds every projection and sends nothing again
    before = len(box.messages)
    replayed = CliRunner().invoke(app, ["replay"])
    assert replayed.exit_code == 0, replayed.output
    carol = "carol@example.org"
    produce(config, [reported(config, "L-3", "rp-carol", {"email": carol})])
    wait_until(lambda: len(box.to(carol)) == 1, 60, "the sentinel message")
    assert len(box.messages) == before + 1


def _expired_token(config: Config) -> str:
    """A token signed as the notifier signs, a year ago (written here from docs/NOTIFY.md)."""

    class YearAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 365 * 86400

    keys = KeyStore(config.keystore)
    try:
        secret = keys.secret("feedback-links")
    finally:
        keys.close()
    serializer = URLSafeTimedSerializer(secret, salt="civicloop.feedback.v1", signer=YearAgo)
    return str(serializer.dumps(["L-1", "whatever"]))
