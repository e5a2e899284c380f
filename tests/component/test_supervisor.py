"""The supervisor behind `civicloop up` (tools/local/supervisor.py), with real processes: a child
that dies is started again with a growing delay; SIGTERM stops the supervisor and its child and
nothing is restarted after it."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from civicloop.tools.local.process import Managed, wait_until
from civicloop.tools.local.supervisor import read_status


def supervise(tmp_path: Path, child: str) -> tuple[Managed, Path]:
    status = tmp_path / "child.supervisor.json"
    process = Managed("supervisor", tmp_path)
    cli = [sys.executable, "-m", "civicloop.cli"]
    process.start([*cli, "supervise", "--status-file", str(status), "--", sys.executable, "-c", child])
    return process, status


def test_a_child_that_dies_is_restarted_with_backoff(tmp_path: Path) -> None:
    # given a child that records each start and exits at once with status 3
    starts = tmp_path / "starts"
    child = f"import time; open({str(starts)!r}, 'a').write(f'{{time.time()}}\\n'); raise SystemExit(3)"
    process, status = supervise(tmp_path, child)
    try:
        # when it has died three times
        wait_until(lambda: starts.exists() and len(starts.read_text().split()) >= 3, 60, "three starts")
        times = [float(t) for t in starts.read_text().split()]
        # then each exit was seen and the pause before each restart grew (1 s, then 2 s)
        seen = read_status(status)
        assert seen is not None and seen.restarts >= 2 and seen.last_exit_code == 3
        assert times[2] - times[1] > times[1] - times[0]
        assert "child_exited" in process.log_tail()
    finally:
        process.stop(timeout=30)


def test_sigterm_stops_the_child_and_restarts_nothing(tmp_path: Path) -> None:
    # given a long-running child
    process, status = supervise(tmp_path, "import time; time.sleep(600)")
    wait_until(lambda: (s := read_status(status)) is not None and s.child_pid is not None, 30, "child start")
    seen = read_status(status)
    assert seen is not None and seen.child_pid is not None
    child = seen.child_pid
    # when only the supervisor is sent SIGTERM
    pid = process.pid()
    assert pid is not None
    os.kill(pid, signal.SIGTERM)
    # then the child is stopped too and the supervisor exits (so nothing can restart it)
    wait_until(lambda: process.pid() is None, 30, "supervisor exit")
    wait_until(lambda: not _alive(child), 30, "child exit")
    assert not status.exists() and "child_exited" not in process.log_tail()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"


def test_a_stop_returns_only_when_every_process_of_the_group_is_gone(tmp_path: Path) -> None:
    # given a leader whose child ignores SIGTERM (as a worker busy tearing down its store can
    # outlive its supervisor): the child's pid is written before the leader waits
    child_pid = tmp_path / "child.pid"
    leader = (
        "import subprocess, sys, time; "
        "c = subprocess.Popen([sys.executable, '-c', "
        "'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)']); "
        f"open({str(child_pid)!r}, 'w').write(str(c.pid)); time.sleep(600)"
    )
    process = Managed("leader", tmp_path)
    process.start([sys.executable, "-c", leader])
    wait_until(lambda: child_pid.exists() and child_pid.read_text() != "", 30, "child start")
    child = int(child_pid.read_text())
    # when the group is stopped (SIGTERM ends the leader at once, the child only by SIGKILL)
    process.stop(timeout=2)
    # then the child is gone too by the time stop returns (the leader alone is not enough)
    assert not _alive(child)
