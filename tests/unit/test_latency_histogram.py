"""The worker's own latency count (streams/latency.py): buckets, differences, quantiles. The
quantile is checked against ``quantile_exact`` over the raw values, rounded up to a bucket."""

from __future__ import annotations

import random

from civicloop.stats import quantile_exact
from civicloop.streams.latency import BUCKET_MS, LAST_MS, LatencyHistogram, quantile_ms, since


def test_each_event_lands_in_the_bucket_of_its_latency() -> None:
    histogram = LatencyHistogram()
    # a batch written at t = 10,000 ms: latencies 0, 9, 10, 250 ms, one without a timestamp,
    # one from the future (counts as 0) and one from long ago (the last bucket)
    histogram.add(10_000, [10_000, 9_991, 9_990, 9_750, None, 10_500, 10_000 - 2 * LAST_MS])
    assert histogram.snapshot() == {"10": 3, "20": 1, "260": 1, str(LAST_MS + BUCKET_MS): 1}


def test_the_difference_of_two_snapshots_is_what_came_between() -> None:
    histogram = LatencyHistogram()
    histogram.add(1_000, [995, 990])
    before = histogram.snapshot()
    histogram.add(2_000, [1_995, 1_500])
    assert since(before, histogram.snapshot()) == {10: 1, 510: 1}
    assert since(before, before) == {}


def test_quantiles_are_the_exact_ones_rounded_up_to_their_bucket() -> None:
    rng = random.Random(5)
    latencies = [rng.randint(0, 3_000) for _ in range(5_000)]
    histogram = LatencyHistogram()
    histogram.add(100_000, [100_000 - ms for ms in latencies])
    counts = since({}, histogram.snapshot())
    for level in (0.0, 0.5, 0.9, 0.99, 1.0):
        exact = quantile_exact(latencies, level)
        assert exact is not None
        assert quantile_ms(counts, level) == (exact // BUCKET_MS + 1) * BUCKET_MS
    assert quantile_ms({}, 0.5) is None
