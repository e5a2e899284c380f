"""Sending a webhook: POST the recorded body, signed with a fresh timestamp; any 2xx is a
delivery, anything else (another status, a timeout, a refused connection) is retried."""

from __future__ import annotations

import json
import time

import httpx

from civicloop.streams.notify import signing
from civicloop.streams.notify.couriers import Send, Undeliverable
from civicloop.streams.notify.store import Delivery, Subscription

TIMEOUT_S = 10.0


def sender(subscription: Subscription) -> Send:
    client = httpx.Client(timeout=TIMEOUT_S, follow_redirects=False)

    def send(delivery: Delivery) -> str:
        body = delivery.payload
        event_type = json.loads(body)["event_type"]
        headers = signing.headers(subscription.secret, int(time.time()), delivery.event_id, event_type, body)
        try:
            response = client.post(subscription.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise Undeliverable(f"{type(exc).__name__}: {exc}") from None
        if not 200 <= response.status_code < 300:
            raise Undeliverable(f"HTTP {response.status_code}")
        return "delivered"

    return send
