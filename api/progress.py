"""How far the projections are behind Kafka, as every API process sees it alike.

Two facts answer "has the projection shown everything accepted for this case?" without any
state of the API's own, so several API processes behind one port give the same answers:

* Kafka's log end of the case's partition at the moment of a call: every event any API
  process (or anyone else) had acknowledged for the case lies below it. The case's partition
  is librdkafka's default partitioner (``crc32(key) % partitions``, consistent_random), the one
  every civicloop producer uses.
* the worker's progress marker (``projection_progress``): written last for each batch, so
  once it covers an offset every table of that batch is complete (docs/DESIGN.md §6).

One poller per process reads the marker while requests wait on it (one query serves all of
them, none when nobody waits); the marker only grows, so an offset seen covered stays covered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec
from starlette.concurrency import run_in_threadpool

from civicloop import log
from civicloop.api.errors import unavailable
from civicloop.streams.producer import partition_of

_log = log.get(__name__)
#: how often the marker is read while requests wait on it
POLL_S = 0.05


class Progress:
    """Kafka's log ends and the projection's marker, for one topic."""

    def __init__(self, address: str, topic: str, read_marks: Callable[[], dict[int, int]]) -> None:
        self.topic = topic
        self._admin = AdminClient({"bootstrap.servers": address})
        self.partitions = len(self._admin.list_topics(topic, timeout=15).topics[topic].partitions)
        self._read_marks = read_marks
        self._marks: dict[int, int] = {}
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._poller: asyncio.Task[None] | None = None

    def partition(self, case_id: str) -> int:
        return partition_of(case_id, self.partitions)

    async def log_ends(self, partitions: list[int]) -> dict[int, int]:
        """Partition → the offset its next message will get, asked of the broker now."""
        wanted = {TopicPartition(self.topic, p): OffsetSpec.latest() for p in partitions}
        try:
            futures = self._admin.list_offsets(wanted, request_timeout=10)
            found = {tp.partition: await asyncio.wrap_future(f) for tp, f in futures.items()}
        except Exception as exc:
            _log.warning("log_end_unknown", error=str(exc))
            raise unavailable(f"Kafka cannot say where the log ends right now ({exc}); retry") from None
        return {p: int(info.offset) for p, info in found.items()}

    async def marks(self) -> dict[int, int]:
        """The marker as stored now: partition → the last offset fully projected."""
        self._merge(await run_in_threadpool(self._read_marks))
        return dict(self._marks)

    async def covered(self, partition: int, offset: int, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) until the marker covers ``offset`` of ``partition``."""
        if offset < 0 or self._marks.get(partition, -1) >= offset:
            return True
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter = (partition, offset, future)
        self._waiters.append(waiter)
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll())
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    async def caught_up(self, case_id: str, timeout: float) -> bool:
        """Whether the projection has shown every event of ``case_id``'s partition that Kafka
        held when this was called (waiting at most ``timeout`` s for it)."""
        partition = self.partition(case_id)
        end = (await self.log_ends([partition]))[partition]
        return await self.covered(partition, end - 1, timeout)

    async def _poll(self) -> None:
        while self._waiters:
            try:
                self._merge(await run_in_threadpool(self._read_marks))
            except Exception as exc:  # the store is unreachable: waiters time out, retry meanwhile
                _log.warning("progress_unreadable", error=str(exc).splitlines()[0] if str(exc) else repr(exc))
            for waiter in list(self._waiters):
                partition, offset, future = waiter
                if self._marks.get(partition, -1) >= offset and not future.done():
                    future.set_result(None)
                    self._waiters.remove(waiter)
            if self._waiters:
                await asyncio.sleep(POLL_S)

    def _merge(self, marks: dict[int, int]) -> None:
        for partition, offset in marks.items():
            if offset > self._marks.get(partition, -1):
                self._marks[partition] = offset
