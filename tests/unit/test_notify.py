"""The notifier's pure parts and its outbox: which deliveries an event owes, the signature,
the backoff, and an outbox that records each delivery once however often it is told."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path

import pytest

from civicloop.privacy import KeyStore
from civicloop.streams.notify import feedback, routing, signing
from civicloop.streams.notify.couriers import backoff
from civicloop.streams.notify.reporter import compose, contact_fields, language
from civicloop.streams.notify.store import CaseContext, NotifyStore, Subscription
from tests.support import case_events as ev

NOW = time.time()


def sub(events: tuple[str, ...] = ("*",), department: str | None = None, created: float = 0) -> Subscription:
    return Subscription("wh1", "http://127.0.0.1:9/h", events, department, "s3cret", created)


def test_a_subscription_gets_its_event_types_of_its_department_logged_after_it_was_made() -> None:
    closed = ev.closed(ev.at(5), case_id="R-1")
    roads = CaseContext(None, None, "roads")
    assert routing.deliveries(closed, roads, [sub()], NOW, "http://x", ())[0][0] == "webhook:wh1"
    assert routing.deliveries(closed, roads, [sub(("CaseReported",))], NOW, "http://x", ()) == []
    assert routing.deliveries(closed, roads, [sub(department="parks")], NOW, "http://x", ()) == []
    assert routing.deliveries(closed, roads, [sub(department="roads")], NOW, "http://x", ()) != []
    assert routing.deliveries(closed, roads, [sub(created=NOW + 1)], NOW, "http://x", ()) == []


def test_the_body_carries_no_contact_and_the_public_status_link() -> None:
    report = ev.reported(ev.at(0), case_id="R/2", contact_ciphertext=b"sealed", contact_key_id="k1")
    context = routing.next_context(CaseContext(None, None, None), report)
    [(_, body)] = routing.deliveries(report, context, [sub()], NOW, "https://311.example.org", ())
    data = json.loads(body)
    assert data["event_id"] == report.event_id and data["event_type"] == "CaseReported"
    assert data["status_url"] == "https://311.example.org/open311/v2/requests/R%2F2.json"
    assert not {"contact_ciphertext", "contact_key_id", "reporter_ref"} & set(data["data"])


def test_the_reporter_is_told_of_received_closed_reopened_only_with_a_contact() -> None:
    with_contact = CaseContext("k1", b"sealed", "roads")
    for event, kind in (
        (ev.reported(ev.at(0)), b"received"),
        (ev.closed(ev.at(1)), b"closed"),
        (ev.reopened(ev.at(2)), b"reopened"),
    ):
        assert routing.deliveries(event, with_contact, [], NOW, "http://x", ("email",)) == [("email", kind)]
    assert (
        routing.deliveries(ev.closed(ev.at(1)), CaseContext(None, None, "roads"), [], NOW, "", ("email",))
        == []
    )
    assert routing.deliveries(ev.registered(ev.at(1)), with_contact, [], NOW, "", ("email",)) == []


def test_the_lead_department_follows_lead_dispatches_only() -> None:
    context = CaseContext(None, None, None)
    context = routing.next_context(context, ev.dispatched(ev.at(1), dept="roads"))
    context = routing.next_context(
        context, ev.dispatched(ev.at(2), task_id="T2", dept="parks", role="assist")
    )
    assert context.department == "roads"


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    body = b'{"a": 1}'
    want = "sha256=" + hmac.new(b"k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signing.signature("k", 1700000000, body) == want
    assert signing.verify("k", "1700000000", body, want)
    assert not signing.verify("k", "1700000001", body, want)
    assert not signing.verify("other", "1700000000", body, want)


def test_backoff_doubles_up_to_a_minute() -> None:
    assert [backoff(n) for n in (1, 2, 3, 7, 20)] == [1, 2, 4, 60, 60]


def test_the_outbox_records_a_delivery_once_however_often_it_is_told(tmp_path: Path) -> None:
    store = NotifyStore(tmp_path / "notify.sqlite")
    rows = [("webhook:wh1", "C-1", "e1", b"{}"), ("email", "C-1", "e1", b"received")]
    assert store.record({}, rows) == 2
    assert store.record({}, rows) == 0  # the re-read after a kill
    first = store.next_due("webhook:wh1", time.time())
    assert first is not None and first.event_id == "e1"
    store.delivered(first.seq)
    assert store.record({}, rows) == 0 and store.next_due("webhook:wh1", time.time()) is None
    assert oct((tmp_path / "notify.sqlite").stat().st_mode & 0o777) == "0o600"  # it holds secrets


def test_finished_deliveries_older_than_the_kept_days_are_forgotten_and_nothing_owed_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from civicloop.streams.notify import notifier as notifier_module
    from tests.conftest import make_config

    config = make_config(tmp_path, notify_keep_days=30)
    bot = notifier_module.Notifier(config)
    store = bot.store
    rows = [("email", "C-1", f"e{i}", b"closed") for i in range(6)]
    store.record({}, rows)
    sub = store.subscribe("https://example.org/hook", ["*"], None)
    store.record({}, [(sub.target, "C-1", "w1", b"{}")])
    for status in ("delivered", "delivered", "skipped"):  # e0 e1 e2 done
        store.delivered(store.next_due("email", time.time()).seq, status)  # type: ignore[union-attr]
    store.failed(store.next_due("email", time.time()), "503", retry_in=0, give_up=True)  # type: ignore[arg-type]
    store.unsubscribe(sub.sub_id)  # w1 dropped, with no done_at
    day = 86_400
    now = time.time()
    # e0, e3 (failed), e4 (pending) and w1 are 31 days old; e1 and e2 were done a day ago
    with store.transaction() as db:
        db.execute("UPDATE outbox SET done_at = ? WHERE event_id = 'e0'", (now - 31 * day,))
        db.execute("UPDATE outbox SET done_at = ? WHERE event_id IN ('e1', 'e2')", (now - day,))
        db.execute(
            "UPDATE outbox SET created_at = ? WHERE event_id IN ('e0', 'e3', 'e4', 'w1')", (now - 31 * day,)
        )

    bot._forget()

    left = {r[0]: r[1] for r in store._db.execute("SELECT event_id, status FROM outbox").fetchall()}
    assert left == {"e1": "delivered", "e2": "skipped", "e3": "failed", "e4": "pending", "e5": "pending"}
    # a re-read of the topic sends what was forgotten again, and nothing it still remembers
    assert store.record({}, rows) == 1
    # the next look is an hour away: a delivery finished long ago meanwhile stays until then
    with store.transaction() as db:
        db.execute(
            "UPDATE outbox SET status = 'delivered', done_at = ? WHERE event_id = 'e1'", (now - 40 * day,)
        )
    bot._forget()
    assert store.counts("email")["delivered"] == 1
    monkeypatch.setattr(notifier_module.time, "time", lambda: now + notifier_module.FORGET_EVERY + 1)
    bot._forget()
    assert "delivered" not in store.counts("email")
    store.close()


def test_with_zero_kept_days_the_notifier_forgets_nothing(tmp_path: Path) -> None:
    from civicloop.streams.notify import notifier as notifier_module
    from tests.conftest import make_config

    bot = notifier_module.Notifier(make_config(tmp_path, notify_keep_days=0))
    bot.store.record({}, [("email", "C-1", "e0", b"closed")])
    bot.store.delivered(bot.store.next_due("email", time.time()).seq)  # type: ignore[union-attr]
    with bot.store.transaction() as db:
        db.execute("UPDATE outbox SET done_at = 0, created_at = 0")
    bot._forget()
    assert bot.store.counts("email") == {"delivered": 1}
    bot.store.close()


def test_a_sealed_contact_is_read_as_fields_from_json_or_a_bare_address() -> None:
    assert contact_fields('{"email": "a@b.org", "language": "zh"}') == {"email": "a@b.org", "language": "zh"}
    assert contact_fields("a@b.org") == {"email": "a@b.org"}
    assert contact_fields("+86 10 1234 5678") == {"phone": "+86 10 1234 5678"}
    assert language({"language": "zh-CN"}, "en") == "zh" and language({}, "zh") == "zh"
    assert language({"language": "fr"}, "en") == "en"


def test_messages_escape_html_and_speak_the_reporters_language() -> None:
    message = compose("closed", "en", "C<1>", "http://x/s", "http://x/feedback/t&k")
    assert "C&lt;1&gt;" in message.html and "<1>" not in message.html
    assert "C<1>" in message.text and "http://x/feedback/t&k" in message.text
    assert "http://x/feedback/t&amp;k" in message.html
    chinese = compose("received", "zh", "C-1", "http://x/s", None)
    assert "已受理" in chinese.subject and "C-1" in chinese.text


def test_a_feedback_link_reads_back_and_refuses_alteration(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path / "keys" / "keys.sqlite")
    link = feedback.token(keys, "C-1", "e-9")
    assert feedback.read(keys, link, 60) == ("C-1", "e-9")
    altered = link[:-2] + ("AA" if not link.endswith("AA") else "BB")
    with pytest.raises(feedback.InvalidLink) as refused:
        feedback.read(keys, altered, 60)
    assert not refused.value.expired
    assert (
        feedback.event_id("C-1", "e-9") == feedback.event_id("C-1", "e-9") != feedback.event_id("C-1", "e-8")
    )
    assert [feedback.SATISFACTION[n] for n in range(1, 6)] == [
        "unsatisfied",
        "unsatisfied",
        "basically_satisfied",
        "satisfied",
        "satisfied",
    ]


def test_the_reporter_is_not_told_of_old_history() -> None:
    with_contact = CaseContext("k1", b"sealed", None)
    week = routing.REPORTER_MAX_AGE_S
    old = routing.deliveries(ev.closed(ev.at(1)), with_contact, [], NOW - week - 1, "", ("email",), now=NOW)
    assert old == []
    assert routing.deliveries(ev.closed(ev.at(1)), with_contact, [], NOW - 5, "", ("email",), now=NOW) != []


def test_feedback_carries_one_to_five_stars_and_a_comment() -> None:
    from datetime import UTC, datetime

    from civicloop.schemas.events import EventValidationError, new_event

    def rated(stars: int, comment: str | None = None) -> object:
        return new_event(
            "FeedbackReceived",
            case_id="C-1",
            event_id=feedback.event_id("C-1", "e"),
            actor={"type": "citizen", "id": "feedback-link"},
            source="tests/1",
            occurred_at=datetime.now(UTC),
            resolved=True,
            satisfaction=feedback.SATISFACTION[min(stars, 5) or 1],
            rating=stars,
            comment=comment,
        )

    assert rated(4, "ok")
    with pytest.raises(EventValidationError, match="rating"):
        rated(6)
    with pytest.raises(EventValidationError, match="comment"):
        rated(3, "x" * 4001)


def test_an_open311_reporter_s_language_is_kept_in_the_sealed_contact_only() -> None:
    from civicloop.api.catalogue import load
    from civicloop.api.intake import note_language, parse

    catalogue = load(None)
    fields = [
        ("service_code", "FLOODING"),
        ("description", "pothole"),
        ("lat", "39.3"),
        ("long", "-76.6"),
    ]
    with_contact = parse([*fields, ("email", "a@b.org")], catalogue)
    note_language(with_contact, "zh-CN,zh;q=0.9,en;q=0.8")
    assert with_contact.contact == {"email": "a@b.org", "language": "zh"}
    anonymous = parse(fields, catalogue)
    note_language(anonymous, "zh-CN")
    assert anonymous.contact == {}


def test_a_courier_that_hits_a_bug_lists_the_delivery_and_goes_on(tmp_path: Path) -> None:
    from civicloop.streams.notify.couriers import Courier

    store = NotifyStore(tmp_path / "notify.sqlite")
    store.record({}, [("email", "C-1", "e1", b"closed"), ("email", "C-2", "e2", b"closed")])

    def send(delivery: object) -> str:
        if delivery.event_id == "e1":
            raise ValueError("alice@example.org is not in the mood")  # a bug quoting a contact
        return "delivered"

    courier = Courier(store, "email", send, retry_for=0)
    assert courier.step() is False and courier.step() is True
    [(_, target, _, event_id, attempts, error)] = store.failures()
    assert (target, event_id, attempts, error) == ("email", "e1", 1, "internal: ValueError")
    assert store.counts("email") == {"failed": 1, "delivered": 1}


def test_the_feedback_page_opens_in_the_language_the_reporter_was_written_in() -> None:
    assert (
        feedback.url("https://311.example.org", "tok", "zh") == "https://311.example.org/feedback/tok?lang=zh"
    )
    assert feedback.url("https://311.example.org", "tok", "en") == "https://311.example.org/feedback/tok"
