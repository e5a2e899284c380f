"""The notifier process (``civicloop notifier``, supervised by ``civicloop up``): its own
consumer group on the case topic, an outbox in SQLite, a courier thread per target.

Delivery guarantee (docs/DESIGN.md §12): a batch's deliveries are recorded in the outbox (one
SQLite transaction, unique per target and event) before the batch's offsets are committed, so
a kill anywhere re-reads at most an unrecorded or uncommitted batch, whose deliveries are
either absent (recorded now) or already there (ignored) — none skipped, none doubled. Couriers
mark a row delivered only after its target confirmed it, so a kill between the two sends that
one again, with the same event id. The notifier has no part in a replay: rebuilding the
projections reads the log with a group of its own and sends nothing.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from typing import Any

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from civicloop import log
from civicloop.config import Config
from civicloop.schemas.codec import DecodeError, decode
from civicloop.streams import kafka, settings
from civicloop.streams.notify import routing, webhooks
from civicloop.streams.notify.couriers import Courier, Send
from civicloop.streams.notify.store import CaseContext, NotifyStore

_log = log.get(__name__)

BATCH = 500
HEALTH_S = 2.0
FORGET_EVERY = 3600.0  # seconds between looks for finished deliveries to forget


def health_file(config: Config) -> Any:
    return config.var / "notifier.health.json"


class Notifier:
    def __init__(
        self, config: Config, reporter_senders: dict[str, Send] | None = None, group: str | None = None
    ) -> None:
        self.config = config
        self.group = group or config.notifier_group
        self.store = NotifyStore(config.notify_db)
        self.reporter_senders = reporter_senders if reporter_senders is not None else {}
        self.couriers: dict[str, Courier] = {}
        self.stopping = threading.Event()
        self._health_at = 0.0
        self._forget_at = 0.0  # the first look at start, then hourly

    def run(self) -> None:
        bootstrap = kafka.wait_for_broker(self.config)
        consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": self.group,
                # static membership: a restarted notifier takes its partitions back at once
                "group.instance.id": f"{self.group}-{self.config.worker_id or 'notifier'}",
                **settings.NOTIFIER_CONSUMER,
            }
        )
        consumer.subscribe([self.config.events_topic])
        _log.info("notifier_started", group=self.group, outbox=str(self.config.notify_db))
        try:
            while not self.stopping.is_set():
                self._couriers()
                messages = consumer.consume(BATCH, timeout=0.5)
                if messages:
                    self._record(messages)
                    # Only now: every delivery of the batch is in the outbox (docs/DESIGN.md §12).
                    consumer.commit(offsets=_next_offsets(messages), asynchronous=False)
                self._health(consumer)
                self._forget()
        finally:
            consumer.close()
            for courier in self.couriers.values():
                courier.stopping.set()
            for courier in self.couriers.values():
                courier.join(15)
            self.store.close()

    def _record(self, messages: list[Message]) -> None:
        subscriptions = self.store.subscriptions()
        contexts: dict[str, CaseContext] = {}
        rows: list[tuple[str, str, str, bytes]] = []
        public_url = self.config.api_public_url
        for message in messages:
            if message.error() is not None:
                _log.warning("kafka_error", error=str(message.error()))
                continue
            try:
                event = decode(message.value() or b"")
            except DecodeError:
                continue  # the worker dead-letters it; a notice needs an event
            try:
                before = contexts.get(event.case_id) or self.store.context(event.case_id)
                context = routing.next_context(before, event)
                logged_at = message.timestamp()[1] / 1000
                owed = routing.deliveries(
                    event, context, subscriptions, logged_at, public_url, tuple(self.reporter_senders)
                )
            except Exception as exc:  # a bug on one message must not stop the log (a poison pill)
                _log.error("notify_event_failed", event_id=event.event_id, error=repr(exc))
                continue
            contexts[event.case_id] = context
            rows += [(target, event.case_id, event.event_id, payload) for target, payload in owed]
        added = self.store.record(contexts, rows)
        _log.debug("batch_recorded", messages=len(messages), deliveries=added)

    def _forget(self) -> None:
        """Forget finished deliveries older than CIVICLOOP_NOTIFY_KEEP_DAYS, at most hourly: the
        outbox keeps what is owed, not every message ever sent."""
        now = time.time()
        keep = self.config.notify_keep_days
        if not keep or now < self._forget_at:
            return
        self._forget_at = now + FORGET_EVERY
        forgotten = self.store.forget_done(now - keep * 86_400)
        if forgotten:
            _log.info("outbox_forgotten", deliveries=forgotten, older_than_days=keep)

    def _couriers(self) -> None:
        """A courier for every live subscription and reporter adapter; none for removed ones."""
        wanted: dict[str, Send] = dict(self.reporter_senders)
        for subscription in self.store.subscriptions():
            if subscription.target not in self.couriers:
                wanted[subscription.target] = webhooks.sender(subscription)
            else:
                wanted[subscription.target] = self.couriers[subscription.target].send
        for target in set(self.couriers) - set(wanted):
            self.couriers.pop(target).stopping.set()
        for target, send in wanted.items():
            if target not in self.couriers:
                courier = Courier(
                    NotifyStore(self.config.notify_db, durable=False),
                    target,
                    send,
                    self.config.notify_retry_for,
                )
                self.couriers[target] = courier
                courier.start()

    def _health(self, consumer: Consumer) -> None:
        """What ``civicloop status`` shows besides the outbox: the group's lag per partition."""
        now = time.time()
        if now - self._health_at < HEALTH_S:
            return
        self._health_at = now
        lag: dict[str, int] = {}
        try:
            assigned = consumer.assignment()
            positions = consumer.position(assigned) if assigned else []
            for tp in positions:
                _, high = consumer.get_watermark_offsets(tp, timeout=2, cached=False)
                lag[str(tp.partition)] = max(0, high - max(tp.offset, 0)) if tp.offset >= 0 else high
        except KafkaException as exc:
            _log.warning("notifier_health_failed", error=str(exc))
        state = {"pid": os.getpid(), "at": now, "lag": lag, "couriers": sorted(self.couriers)}
        path = health_file(self.config)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(state))
        temporary.replace(path)


def _next_offsets(messages: list[Message]) -> list[TopicPartition]:
    """The offset after the last message of each partition in the batch."""
    last: dict[tuple[str, int], int] = {}
    for message in messages:
        if message.error() is None:
            last[(message.topic() or "", message.partition() or 0)] = message.offset() or 0
    return [TopicPartition(topic, partition, offset + 1) for (topic, partition), offset in last.items()]


def run(config: Config) -> None:
    """Run the notifier in the foreground until SIGTERM or SIGINT."""
    from civicloop.streams.notify.reporter import adapters

    notifier = Notifier(config, adapters(config))

    def stop(signum: int, frame: object) -> None:
        notifier.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    notifier.run()
