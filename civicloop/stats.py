"""Order statistics shared by the benchmarks and the test oracles."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

T = TypeVar("T", int, float)


def quantile_exact(values: Iterable[T], level: float) -> T | None:
    """ClickHouse's ``quantileExact`` rule: the element at ``min(floor(level * n), n - 1)`` of
    the sorted values (the upper median for even n); None when there are none."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[min(int(level * len(ordered)), len(ordered) - 1)]
