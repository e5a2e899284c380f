"""A pid file names the process that wrote it, not whoever has that pid later.

Pids are reused (32,768 of them on a default Linux, and every thread of a ClickHouse server or
a JVM takes one): the pid file of a process that was killed can name another process a few
minutes later. ``stop`` and ``kill`` must then signal nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from civicloop.tools.local.process import Managed, wait_until


@pytest.fixture
def sleeper(tmp_path: Path) -> Iterator[Managed]:
    process = Managed("sleeper", tmp_path)
    process.start(["sleep", "60"])
    yield process
    process.kill()


def test_the_pid_file_names_the_process_and_when_it_started(sleeper: Managed) -> None:
    pid, started = sleeper.pid_file.read_text().split()

    assert sleeper.pid() == int(pid)
    assert int(started) == int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])


def test_a_pid_file_whose_pid_another_process_now_has_is_stale(tmp_path: Path, sleeper: Managed) -> None:
    pid, started = sleeper.pid_file.read_text().split()
    # the record of a process that had this pid before and was killed: the same pid, started earlier
    stale = Managed("gone", tmp_path)
    stale.pid_file.write_text(f"{pid} {int(started) - 1}")

    assert stale.pid() is None
    assert stale.stop(timeout=1) is False
    stale.kill()
    assert sleeper.pid() == int(pid), "the process that has the pid now was not signalled"
    assert _state(int(pid)) != "Z"


def test_a_pid_file_of_the_pid_alone_is_still_read(tmp_path: Path) -> None:
    child = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        old = Managed("old", tmp_path)
        old.pid_file.write_text(str(child.pid))

        assert old.pid() == child.pid
        assert old.stop(timeout=5) is True
        assert old.pid() is None
    finally:
        child.kill()
        child.wait()


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_a_process_whose_first_thread_exited_runs_while_another_thread_does(tmp_path: Path) -> None:
    # The first thread ends with pthread_exit: the process shows as a zombie, but its other
    # thread still runs, holding the process's files (and so a chDB lock). Started through a
    # shell, so it is not this process's child (a child's exit is reported only once every
    # thread is gone); a worker under its supervisor is such a process for `civicloop down`.
    script = (
        "import ctypes, os, threading, time; os.setsid(); "  # its own group, as Managed.start makes
        "threading.Thread(target=time.sleep, args=(60,)).start(); "  # start() returns once it runs
        "ctypes.CDLL(None).pthread_exit(None)"
    )
    shell = subprocess.Popen(
        ["sh", "-c", f"{sys.executable} -c '{script}' >/dev/null 2>&1 & echo $!"],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    assert shell.stdout is not None
    pid = int(shell.stdout.readline())
    shell.wait()
    record = Managed("half", tmp_path)
    record.pid_file.write_text(str(pid))
    try:
        wait_until(lambda: _state(pid) == "Z", 10, "the first thread's exit")

        assert record.pid() == pid, "a thread still runs: the process is not gone"
        record.kill()  # SIGKILL to the group: every thread goes
        assert record.pid() is None
    finally:
        if Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGKILL)
