"""How long events take from Kafka to the projections, as the worker itself sees it.

An event's latency is the moment its batch was written (the progress marker, last of the
batch's writes, returned) minus its Kafka timestamp (CreateTime: when the producer created it).
The worker counts every event of every batch it wrote — dead letters too: they reached their
place as well — in buckets of ``BUCKET_MS``, and its health report carries the counts since it
started, so an operator sees how far behind "projected" runs, and ``civicloop bench live``
takes the difference of two readings to get a phase's distribution without asking the store
anything (docs/BENCHMARKS.md, "Live worker").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

BUCKET_MS = 10
#: the last bucket holds everything at or above this (a worker that was down, a replayed topic)
LAST_MS = 600_000


class LatencyHistogram:
    """Counts of event latencies by ``BUCKET_MS`` bucket, since the worker started."""

    def __init__(self) -> None:
        self._counts: dict[int, int] = {}

    def add(self, written_ms: float, timestamps_ms: Iterable[int | None]) -> None:
        """The events of one batch, written at ``written_ms`` (a message without a
        timestamp is not counted; one from the future counts as 0)."""
        counts = self._counts
        last = LAST_MS // BUCKET_MS
        for created in timestamps_ms:
            if created is not None:
                bucket = min(max(0, int(written_ms - created)) // BUCKET_MS, last)
                counts[bucket] = counts.get(bucket, 0) + 1

    def snapshot(self) -> dict[str, int]:
        """``{upper bound in ms: count}`` for every bucket that holds any event (JSON keys)."""
        return {str((bucket + 1) * BUCKET_MS): n for bucket, n in sorted(self._counts.items())}


def since(before: Mapping[str, int], after: Mapping[str, int]) -> dict[int, int]:
    """The events counted between two snapshots, ``{upper bound ms: count}``."""
    out = {int(bound): n - before.get(bound, 0) for bound, n in after.items()}
    return {bound: n for bound, n in sorted(out.items()) if n}


def quantile_ms(counts: Mapping[int, int], level: float) -> int | None:
    """The upper bound of the bucket holding the ``level`` quantile (the same index rule as
    ``civicloop.stats.quantile_exact``: element ``min(floor(level × n), n − 1)``, 0-based, of the
    sorted values); None without events. Exact to ``BUCKET_MS``, never below the true value."""
    total = sum(counts.values())
    if total == 0:
        return None
    index = min(int(level * total), total - 1)
    seen = 0
    for bound in sorted(counts):
        seen += counts[bound]
        if seen > index:
            return bound
    raise AssertionError("unreachable: the index is below the total")
