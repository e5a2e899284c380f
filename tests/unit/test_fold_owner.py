"""Which fold process folds a message (``projections/parallel/pool.py``): by key, and balanced
within every partition — a batch read from a few partitions must still reach every process."""

from __future__ import annotations

import zlib
from collections import Counter

import pytest

from civicloop.projections.parallel import owner

PARTITIONS = 6
KEYS = [f"C-2026-{n:07d}".encode() for n in range(12_000)]


def librdkafka_partition(key: bytes) -> int:
    """librdkafka's default partitioner (``consistent_random``) for a keyed message."""
    return zlib.crc32(key) % PARTITIONS


def test_a_case_always_goes_to_the_same_process() -> None:
    assert [owner(key, 2) for key in KEYS] == [owner(key, 2) for key in KEYS]
    assert owner(None, 2) == owner(b"", 2)


@pytest.mark.parametrize("processes", [2, 3, 4])
def test_each_partition_s_cases_are_spread_over_every_process(processes: int) -> None:
    by_partition: dict[int, Counter[int]] = {}
    for key in KEYS:
        by_partition.setdefault(librdkafka_partition(key), Counter())[owner(key, processes)] += 1
    fair = len(KEYS) / PARTITIONS / processes
    for partition, shares in sorted(by_partition.items()):
        assert sorted(shares) == list(range(processes)), f"partition {partition} reaches every process"
        assert all(0.8 * fair < n < 1.2 * fair for n in shares.values()), (partition, shares)
