"""Whether a worker is healthy, as the broker sees it: reachability, lag per partition, group.

A probe thread asks the broker every ``PROBE_S`` seconds — with clients of its own, so a slow
or absent broker never blocks the worker's event loop — for the end offset of every partition
of the case-events topic, the consumer group's committed offsets (lag = end − committed:
commits follow written batches, docs/DESIGN.md §1) and the group's state. The committed
offsets come from a plain consumer of the group that never subscribes (so it never joins the
group), not from the admin API: librdkafka's admin ListConsumerGroupOffsets and
DescribeConsumerGroups crash the process when the group coordinator moves or is not loaded
yet (librdkafka issues #5040, #5397) — exactly what a broker restart does. The group's state
comes from ListGroups, which asks the brokers, not the coordinator.
:func:`judge` turns that, the partitions this worker holds and the time of its last projected
batch into the status ``civicloop status`` and ``/civicloop/health`` show: ``ok`` only when
the broker answers and the worker keeps up — each partition it holds has no lag, or a batch
was projected within ``STALL_S`` seconds — and it either holds partitions or its group is
stable (an extra worker idles legitimately). Anything else is ``degraded``, with the reasons.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from civicloop import log

_log = log.get(__name__)

PROBE_S = 2.0  # seconds between probes
TIMEOUT_S = 3.0  # per admin request: a broker slower than this counts as unreachable
STALL_S = 15.0  # lag with no projected batch for this long is not keeping up


@dataclass
class BrokerView:
    """What the last probe saw."""

    reachable: bool = False
    checked_at: float | None = None
    unreachable_since: float | None = None
    error: str = ""
    group_state: str = "unknown"
    end_offsets: dict[int, int] = field(default_factory=dict)
    committed: dict[int, int] = field(default_factory=dict)

    def lag(self, partition: int) -> int:
        """Messages of ``partition`` not yet committed by the group (never committed: all)."""
        return max(0, self.end_offsets.get(partition, 0) - max(self.committed.get(partition, 0), 0))


class BrokerProbe:
    """Probes ``bootstrap`` in a daemon thread until :meth:`stop`."""

    def __init__(self, bootstrap: str, topic: str, group: str, interval: float = PROBE_S) -> None:
        self.bootstrap, self.topic, self.group, self.interval = bootstrap, topic, group, interval
        # log_level 0: refusals while the broker is down are this probe's to report, once each.
        self._admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
        self._offsets = Consumer(
            {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False, "log_level": 0}
        )
        self._view = BrokerView()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="broker-probe", daemon=True)

    def start(self) -> BrokerProbe:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(TIMEOUT_S * 4)
        self._offsets.close()

    def view(self) -> BrokerView:
        with self._lock:
            return self._view

    def _run(self) -> None:
        while not self._stop.is_set():
            self.probe()
            self._stop.wait(self.interval)

    def probe(self) -> BrokerView:
        """One probe; the new view replaces the last one."""
        now = time.time()
        previous = self.view()
        try:
            seen = self._ask()
        except (KafkaException, OSError, ValueError) as exc:
            since = previous.unreachable_since if not previous.reachable and previous.checked_at else now
            if previous.reachable or previous.checked_at is None:
                _log.warning("kafka_unreachable", bootstrap=self.bootstrap, error=str(exc))
            seen = BrokerView(
                False, now, since, str(exc), "unknown", previous.end_offsets, previous.committed
            )
        else:
            if not previous.reachable and previous.checked_at is not None:
                _log.info("kafka_reachable_again", bootstrap=self.bootstrap)
            seen.checked_at = now
        with self._lock:
            self._view = seen
        return seen

    def _ask(self) -> BrokerView:
        for server in self.bootstrap.split(","):
            host, _, port = server.strip().rpartition(":")
            try:  # a refused connection answers at once, where librdkafka would wait out a timeout
                socket.create_connection((host or "localhost", int(port)), timeout=TIMEOUT_S).close()
                break
            except OSError:
                continue
        else:
            raise OSError(f"no broker of {self.bootstrap} accepts connections")
        metadata = self._admin.list_topics(self.topic, timeout=TIMEOUT_S).topics[self.topic]
        if metadata.error is not None:
            raise KafkaException(metadata.error)
        partitions = [TopicPartition(self.topic, p) for p in sorted(metadata.partitions)]
        ends = self._admin.list_offsets(
            {tp: OffsetSpec.latest() for tp in partitions}, request_timeout=TIMEOUT_S
        )
        view = BrokerView(
            reachable=True, end_offsets={tp.partition: f.result().offset for tp, f in ends.items()}
        )
        try:  # the broker answered; the group's figures may still be loading (a restart)
            committed = self._offsets.committed(partitions, timeout=TIMEOUT_S)
            view.committed = {tp.partition: tp.offset for tp in committed}
            listed = self._admin.list_consumer_groups(request_timeout=TIMEOUT_S).result().valid
            states = [g.state for g in listed if g.group_id == self.group]
            view.group_state = _state_name(states[0]) if states else "none"
        except KafkaException as exc:
            view.error, view.group_state = str(exc), "unknown"
            view.committed = dict(self.view().committed)
        return view


def _state_name(state: Any) -> str:
    name = str(getattr(state, "name", state))
    return name.lower()


def judge(
    view: BrokerView,
    assigned: set[int],
    last_batch_at: float | None,
    now: float,
    writing_since: float | None = None,
) -> dict[str, Any]:
    """The health fields: status (``ok`` / ``degraded``), the problems, and the lag figures.
    ``writing_since``: when the batch being written now started (None: none is)."""
    problems = []
    stale = view.checked_at is None or now - view.checked_at > 3 * PROBE_S + TIMEOUT_S
    if not view.reachable or stale:
        since = view.unreachable_since or view.checked_at
        lasted = f" for {now - since:.0f} s" if since else ""
        problems.append(f"Kafka unreachable{lasted}: {view.error or 'no answer from the probe'}")
    batch_age = None if last_batch_at is None else now - last_batch_at
    lagging = sorted(p for p in assigned if view.lag(p) > 0)
    if lagging and (batch_age is None or batch_age > STALL_S):
        idle = "no batch projected yet" if batch_age is None else f"no batch projected for {batch_age:.0f} s"
        problems.append(f"lag {sum(view.lag(p) for p in lagging)} on partitions {lagging} and {idle}")
    writing = None if writing_since is None else now - writing_since
    if writing is not None and writing > STALL_S:
        problems.append(f"a batch has been writing for {writing:.0f} s: is the store answering?")
    if view.reachable and not assigned and view.group_state != "stable":
        problems.append(f"no partitions assigned (group {view.group_state})")
    return {
        "status": "degraded" if problems else "ok",
        "problems": problems,
        "kafka": {
            "reachable": view.reachable and not stale,
            "checked_at": view.checked_at,
            "unreachable_since": view.unreachable_since,
            "group_state": view.group_state,
        },
        "last_batch_age_s": None if batch_age is None else round(batch_age, 1),
        "batch_writing_s": None if writing is None else round(writing, 1),
        "lag": sum(view.lag(p) for p in view.end_offsets),
        "partitions": [
            {
                "partition": p,
                "end_offset": end,
                "committed": view.committed.get(p, -1),
                "lag": view.lag(p),
                "assigned_here": p in assigned,
            }
            for p, end in sorted(view.end_offsets.items())
        ],
    }
