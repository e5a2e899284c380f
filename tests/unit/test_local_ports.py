"""The loopback ports local tooling picks for the servers it starts: anywhere below the kernel's
ephemeral range by default, or only in CIVICLOOP_LOCAL_PORTS — what keeps `make test`'s
pytest-xdist processes (and two local stacks) from picking a port the other picked."""

from __future__ import annotations

import pytest

from civicloop import config
from civicloop.tools.local.process import free_port, local_port_range


def test_without_a_range_ports_come_from_below_the_ephemeral_range(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CIVICLOOP_LOCAL_PORTS", raising=False)
    ephemeral = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    low, high = local_port_range()
    assert low == 10000 and high == max(ephemeral, 12000)
    assert all(low <= free_port() < high for _ in range(50))


def test_with_a_range_every_port_and_every_run_of_ports_stays_inside_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CIVICLOOP_LOCAL_PORTS", "23000-23199")
    assert local_port_range() == (23000, 23199)
    for _ in range(10):  # 50 of its 199 ports: each is handed out once per process
        assert 23000 <= free_port() < 23199
        first = free_port(count=4)
        assert 23000 <= first and first + 3 < 23199


@pytest.mark.parametrize(
    "raw",
    ["23000", "a-b", "23000-22000", "80-9000", "23000-23050", "23000-70000"],
)
def test_an_unusable_range_is_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("CIVICLOOP_LOCAL_PORTS", raw)
    with pytest.raises(ValueError, match="CIVICLOOP_LOCAL_PORTS"):
        config.load()


def test_a_child_process_is_given_the_range_it_was_started_with(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICLOOP_LOCAL_PORTS", "23000-23199")
    assert config.to_env(config.load())["CIVICLOOP_LOCAL_PORTS"] == "23000-23199"
