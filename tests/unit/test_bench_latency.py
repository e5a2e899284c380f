"""How ``civicloop bench live`` turns delivery reports and polls into latencies."""

from __future__ import annotations

from civicloop.tools.bench.live import Latency, _latencies
from civicloop.tools.bench.report import Figure


def test_a_message_is_projected_at_the_first_poll_that_includes_its_offset() -> None:
    # given messages produced at t=10.0 s (partition 0, offsets 0-2) and t=10.1 s (partition 1)
    produced = [(0, 0, 10_000), (0, 1, 10_000), (0, 2, 10_000), (1, 0, 10_100)]
    # and polls that saw partition 0 up to offset 1 at 10.2 s, then everything at 10.5 s
    snapshots = [(10.05, {}), (10.2, {0: 1}), (10.5, {0: 2, 1: 0})]
    # when the latencies are worked out
    latencies = sorted(round(s, 3) for s in _latencies(produced, snapshots))
    # then each is the first poll that included its offset, minus its produce time
    assert latencies == [0.2, 0.2, 0.4, 0.5]


def test_latency_notes_come_from_the_worker_counts_and_keep_the_poll_bound() -> None:
    # given the worker counted 100 events, one per 10 ms bucket from 10 to 1,000 ms
    counts = {bound: 1 for bound in range(10, 1_001, 10)}
    latency = Latency(
        Figure("paced", 100, 1.0), [i / 100 for i in range(1, 101)], [0.004, 0.006], 100.0, counts
    )
    notes = latency.notes()
    # then the levels follow quantile_exact's index rule over the buckets
    assert (notes["latency_p50_ms"], notes["latency_p90_ms"], notes["latency_p99_ms"]) == (510, 910, 1000)
    assert notes["latency_max_ms"] == 1000 and notes["latency_events_counted"] == 100
    # and the polls' upper bound is reported beside them
    assert notes["latency_p99_upper_bound_ms"] == 1000 and notes["paced_rate_achieved"] == 100
