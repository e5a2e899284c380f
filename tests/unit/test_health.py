"""What a worker's health says (streams/health.py): "ok" only when Kafka answers and the worker
keeps up, or idles with zero lag; otherwise "degraded" with the reasons."""

from __future__ import annotations

from civicloop.streams.health import PROBE_S, STALL_S, BrokerView, judge

NOW = 1_000_000.0


def view(
    reachable: bool = True,
    ends: dict[int, int] | None = None,
    committed: dict[int, int] | None = None,
    state: str = "stable",
    checked: float = NOW - 1,
    since: float | None = None,
) -> BrokerView:
    error = "" if reachable else "connection refused"
    return BrokerView(
        reachable, checked, since, error, state, ends or {0: 10, 1: 20}, committed or {0: 10, 1: 20}
    )


def test_idle_with_zero_lag_is_ok() -> None:
    health = judge(view(), {0, 1}, last_batch_at=None, now=NOW)
    assert (health["status"], health["problems"], health["lag"]) == ("ok", [], 0)
    assert [p["assigned_here"] for p in health["partitions"]] == [True, True]


def test_lag_with_recent_batches_is_keeping_up() -> None:
    health = judge(view(committed={0: 5, 1: 20}), {0, 1}, last_batch_at=NOW - 2, now=NOW)
    assert health["status"] == "ok" and health["lag"] == 5


def test_lag_without_progress_is_degraded() -> None:
    health = judge(view(committed={0: 5, 1: 20}), {0, 1}, last_batch_at=NOW - STALL_S - 1, now=NOW)
    assert health["status"] == "degraded"
    assert health["problems"] == [f"lag 5 on partitions [0] and no batch projected for {STALL_S + 1:.0f} s"]


def test_a_broker_outage_is_reported_while_it_lasts() -> None:
    down = view(reachable=False, since=NOW - 30)
    health = judge(down, {0, 1}, last_batch_at=NOW - 1, now=NOW)
    assert health["status"] == "degraded" and health["kafka"]["reachable"] is False
    assert health["problems"][0].startswith("Kafka unreachable for 30 s")


def test_a_probe_that_stopped_answering_counts_as_unreachable() -> None:
    stale = view(checked=NOW - 10 * PROBE_S)
    assert judge(stale, {0, 1}, last_batch_at=NOW - 1, now=NOW)["status"] == "degraded"


def test_no_partitions_is_ok_only_in_a_stable_group() -> None:
    assert judge(view(), set(), last_batch_at=None, now=NOW)["status"] == "ok"  # an extra worker
    rebalancing = judge(view(state="preparing_rebalance"), set(), last_batch_at=None, now=NOW)
    assert rebalancing["problems"] == ["no partitions assigned (group preparing_rebalance)"]


def test_never_committed_means_everything_is_lag() -> None:
    fresh = view(ends={0: 7}, committed={0: -1001})
    assert judge(fresh, {0}, last_batch_at=None, now=NOW)["lag"] == 7


def test_a_batch_stuck_on_the_store_is_reported() -> None:
    health = judge(view(), {0, 1}, last_batch_at=NOW - 1, now=NOW, writing_since=NOW - STALL_S - 5)
    assert health["status"] == "degraded" and health["batch_writing_s"] == STALL_S + 5
    assert health["problems"] == [
        f"a batch has been writing for {STALL_S + 5:.0f} s: is the store answering?"
    ]
