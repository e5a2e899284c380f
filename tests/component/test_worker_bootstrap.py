"""A worker whose broker goes away between its wait for the broker and its Kafka clients' start
(a broker restart just then) waits for it, as one started while it is away does: its aiokafka
client's bootstrap is retried (``streams.worker.clients_wait_for_the_broker``). Before, the
bootstrap raised and the worker exited with code 1 — a crash its supervisor restarted; the chaos
benchmark counted three restarts for two kills.

The broker is the session's real one, reached through a loopback port that hangs up on every
connection at first and forwards them to the broker once opened: the address a client bootstraps
from is there without a broker behind it, then the broker is back, as across a restart."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaConnectionError

from civicloop.streams.worker import clients_wait_for_the_broker

pytestmark = pytest.mark.integration


class Forwarder:
    """A loopback port that hangs up on each connection (counted) until ``open()``, then pipes
    each to ``target`` (host:port)."""

    def __init__(self, target: str) -> None:
        host, port = target.rsplit(":", 1)
        self.target = (host, int(port))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.opened = threading.Event()
        self.refused = self.forwarded = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def open(self) -> None:
        self.opened.set()

    def close(self) -> None:
        self.listener.close()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.opened.is_set():
                self.refused += 1
                client.close()
                continue
            self.forwarded += 1
            upstream = socket.create_connection(self.target)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(source, sink), daemon=True).start()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@pytest.fixture
def away(kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Forwarder]:
    """A port where the broker is away until ``open()``; aiokafka's bootstrap as it was, after."""
    monkeypatch.setattr(AIOKafkaClient, "bootstrap", AIOKafkaClient.bootstrap)
    forwarder = Forwarder(kafka_bootstrap)
    yield forwarder
    forwarder.close()


async def _start(port: int) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(bootstrap_servers=f"127.0.0.1:{port}")
    try:
        await producer.start()
    except BaseException:
        await producer.stop()
        raise
    return producer


def test_a_client_whose_broker_is_away_when_it_starts_waits_for_it(
    away: Forwarder, kafka_bootstrap: str
) -> None:
    # as it was: the start raises at its first try
    with pytest.raises(KafkaConnectionError):
        asyncio.run(_start(away.port))
    assert away.refused == 1

    # with the worker's bootstrap: the start tries again until the broker is back
    clients_wait_for_the_broker(first_delay=0.1, max_delay=0.2)

    async def started_when_back() -> list[str]:
        starting = asyncio.ensure_future(_start(away.port))
        while away.refused < 3:  # two more tries hung up on, and the start still waits
            if starting.done():
                await starting  # its error, if it gave up
                raise AssertionError("the start returned while no broker answered")
            await asyncio.sleep(0.05)
        away.open()
        producer = await starting
        try:
            return [f"{b.host}:{b.port}" for b in producer.client.cluster.brokers()]
        finally:
            await producer.stop()

    assert asyncio.run(started_when_back()) == [kafka_bootstrap]  # it found the broker
    assert away.forwarded >= 1  # through the port where it had been away
