"""Producing from request handlers: one idempotent SDK producer, each request answered when
the broker has acknowledged that request's own event.

The SDK's ``EventProducer`` (``enable.idempotence``, ``acks=all``, keyed by case) does the
sending; a thread serves its delivery reports and resolves each request's future, so requests
never wait on one another's flushes, and the producer batches what concurrent requests send.

A request that times out may still be delivered later: its client retries with the same
``Idempotency-Key``, which gives the same event id, and the projections keep one event per id
(docs/DESIGN.md §1). Within one process, a retry of an event already acknowledged is answered
from memory and not sent again.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict

from confluent_kafka import KafkaError, Message

from civicloop import log
from civicloop.api.errors import unavailable
from civicloop.schemas.codec import encode
from civicloop.schemas.event import Event
from civicloop.streams import settings
from civicloop.streams.producer import Delivered, EventProducer

_log = log.get(__name__)
#: acknowledged event ids remembered per process (a retry within minutes is answered from here)
REMEMBERED = 50_000


class Sender:
    """Sends events; ``await send(event)`` returns once the broker has it."""

    def __init__(self, bootstrap: str, topic: str, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self._producer = EventProducer(bootstrap, topic, **settings.API_PRODUCER)
        self._sent: OrderedDict[str, Delivered] = OrderedDict()
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._serve_reports, name="kafka-delivery", daemon=True)
        self._poller.start()

    def already_sent(self, event_id: str) -> Delivered | None:
        """Where an event this process already had acknowledged went, if it did."""
        return self._sent.get(event_id)

    async def send(self, event: Event) -> Delivered:
        """Send ``event`` and wait for the acknowledgement; 503 if none comes in time."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Delivered] = loop.create_future()

        def done(err: KafkaError | None, msg: Message) -> None:  # runs on the poller thread
            loop.call_soon_threadsafe(_resolve, future, err, msg)

        self._producer.send_raw(event.case_id, encode(event), on_delivery=done)
        try:
            delivered = await asyncio.wait_for(future, self.timeout)
        except TimeoutError:
            _log.warning("produce_timeout", event_id=event.event_id, after_s=self.timeout)
            raise unavailable(
                f"Kafka did not acknowledge the event within {self.timeout:.0f} s; retry with the "
                "same Idempotency-Key (a retry cannot duplicate it)"
            ) from None
        self._remember(event.event_id, delivered)
        return delivered

    def _remember(self, event_id: str, delivered: Delivered) -> None:
        self._sent[event_id] = delivered
        while len(self._sent) > REMEMBERED:
            self._sent.popitem(last=False)

    def _serve_reports(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.1)

    def close(self, timeout: float = 10.0) -> None:
        """Stop serving reports and flush what is still queued (shutdown)."""
        self._stop.set()
        self._poller.join(timeout)
        try:
            self._producer.flush(timeout)
        except Exception as exc:
            _log.warning("producer_flush_failed", error=str(exc))


def _resolve(future: asyncio.Future[Delivered], err: KafkaError | None, msg: Message) -> None:
    if future.done():  # the request already timed out
        return
    if err is not None:
        future.set_exception(unavailable(f"Kafka refused the event: {err}"))
    else:
        future.set_result(Delivered(msg.topic() or "", msg.partition() or 0, msg.offset() or 0))
