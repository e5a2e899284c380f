"""One courier per target: a thread that sends its target's deliveries one at a time, in the
order they were recorded, retrying with backoff.

A target's queue is its own, so a subscriber that fails (or is slow) holds up only itself.
The head of a queue is retried — 1 s, 2 s, 4 s … up to ``MAX_BACKOFF_S`` — until it succeeds,
which keeps each case's events in order for that target, or until it has failed for
``retry_for`` seconds: then it moves to the failures list (``civicloop webhook failures``;
``retry`` puts it back) and the queue goes on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from civicloop import log
from civicloop.streams.notify.store import Delivery, NotifyStore

_log = log.get(__name__)

MAX_BACKOFF_S = 60.0
IDLE_S = 0.2  # how often an idle queue looks for new deliveries


class Undeliverable(Exception):
    """This delivery failed; it will be retried (the message says why, for the failures list)."""


#: sends one delivery; returns "delivered" or "skipped" (nobody to tell), raises Undeliverable
Send = Callable[[Delivery], str]


def backoff(attempts: int) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones (1, 2, 4 … 60)."""
    return float(min(MAX_BACKOFF_S, 2 ** max(attempts - 1, 0)))


class Courier(threading.Thread):
    def __init__(self, store: NotifyStore, target: str, send: Send, retry_for: float) -> None:
        super().__init__(name=f"courier-{target}", daemon=True)
        self.store, self.target, self.send, self.retry_for = store, target, send, retry_for
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                worked = self.step()
            except Exception as exc:  # the store itself failed: try again shortly
                _log.error("courier_failed", target=self.target, error=repr(exc))
                worked = False
            if not worked:
                self.stopping.wait(IDLE_S)

    def step(self) -> bool:
        """Send the head of the queue if it is due; False when there was nothing to do."""
        delivery = self.store.next_due(self.target, time.time())
        if delivery is None:
            return False
        try:
            outcome = self.send(delivery)
        except Exception as exc:  # Undeliverable, or our own bug: either way this one waits, not the queue
            reason = str(exc) if isinstance(exc, Undeliverable) else f"internal: {type(exc).__name__}"
            attempts, now = delivery.attempts + 1, time.time()
            failing_for = now - (delivery.first_failed_at or now)
            give_up = failing_for >= self.retry_for
            self.store.failed(delivery, reason, backoff(attempts), give_up)
            _log.warning(
                "delivery_failed",
                target=self.target,
                event_id=delivery.event_id,
                attempts=attempts,
                error=reason,  # never the exception's text of a bug: it might quote a contact
                gave_up=give_up,
            )
            return False
        self.store.delivered(delivery.seq, outcome)
        return True
