"""Background processes that civicloop starts and stops itself: pid files, logs, clean stops."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from civicloop import config, log

_log = log.get(__name__)


def free_port(count: int = 1) -> int:
    """The first of ``count`` consecutive loopback TCP ports nobody listens on right now.

    Chosen below the kernel's ephemeral range, so that the outgoing connections every test makes
    cannot take one of them between this call and the moment a server binds it: a worker with
    index ``i`` listens on ``base + i`` (tools/local/stack.py), and a port handed out by
    ``bind(0)`` leaves its neighbours to chance."""
    low, high = local_port_range()
    for _ in range(1000):
        base = _random.randrange(low, high - count)
        ports = range(base, base + count)
        if not _handed_out.intersection(ports) and all(port_free(port) for port in ports):
            _handed_out.update(ports)
            return base
    raise RuntimeError(f"no {count} consecutive free loopback ports between {low} and {high}")


_random = random.SystemRandom()
_handed_out: set[int] = set()


def local_port_range() -> tuple[int, int]:
    """``CIVICLOOP_LOCAL_PORTS`` when set (two stacks, or the test suite's processes, on one
    machine keep to ranges of their own: a port one of them picked but has not bound yet cannot
    be picked by the other); else from 10000 up to the start of the ephemeral range (Linux:
    32768 by default)."""
    chosen = config.value("local_ports")
    if chosen is not None:
        return chosen
    try:
        first = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        first = 32768
    return 10000, max(first, 12000)


def port_free(port: int) -> bool:
    """Nobody listens on loopback ``port`` (a port in TIME_WAIT counts as free: servers such as
    the Kafka broker bind with SO_REUSEADDR, so they can take it again at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.2) -> None:
    """Poll ``check`` until it returns True; raise TimeoutError naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise TimeoutError(f"{what} did not happen within {timeout:.0f} s")


@dataclass(frozen=True)
class Managed:
    """A process recorded by a pid file in a state directory."""

    name: str
    state_dir: Path

    @property
    def pid_file(self) -> Path:
        return self.state_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / f"{self.name}.log"

    def pid(self) -> int | None:
        """The recorded pid when that process is still alive, else None.

        The file holds the pid and the process's start time (``/proc/<pid>/stat``, in clock
        ticks since boot). Pids are reused — at most 32,768 on a default Linux, and every
        thread of a ClickHouse server or a JVM takes one — so a pid file left by a process that
        was killed can name another process later: without the start time, the next ``stop``
        or ``kill`` of this name would signal that process's group. A file of the pid alone
        (written before the start time was) is trusted as before."""
        try:
            recorded = self.pid_file.read_text().split()
            pid = int(recorded[0])
            started = int(recorded[1]) if len(recorded) > 1 else None
        except (FileNotFoundError, ValueError, IndexError):
            return None
        if not _alive(pid) or (started is not None and _start_time(pid) != started):
            return None
        return pid

    def start(self, argv: Sequence[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> int:
        """Start ``argv`` in its own session (so a stop reaches its children), log to a file."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as out:
            proc = subprocess.Popen(
                list(argv),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        started = _start_time(proc.pid)
        self.pid_file.write_text(f"{proc.pid} {started}" if started is not None else str(proc.pid))
        _log.info("process_started", name=self.name, pid=proc.pid, log=str(self.log_file))
        return proc.pid

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM the process group, SIGKILL it after ``timeout``; True when one was running."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        _signal_group(pid, signal.SIGTERM)
        try:
            wait_until(lambda: not _group_alive(pid), timeout, f"{self.name} (pid {pid}) exit")
        except TimeoutError:
            _log.warning("process_killed", name=self.name, pid=pid, after_s=timeout)
            _signal_group(pid, signal.SIGKILL)
            wait_until(lambda: not _group_alive(pid), 10, f"{self.name} (pid {pid}) exit after SIGKILL")
        self.pid_file.unlink(missing_ok=True)
        _log.info("process_stopped", name=self.name, pid=pid)
        return True

    def kill(self) -> None:
        """SIGKILL without warning: what a crash or an OOM kill does (used by tests).

        Returns once every process of the group is gone, not only its leader: a child (a worker
        under its supervisor, a fold process) that is still tearing down holds its files, and
        chDB's lock on its directory with them."""
        pid = self.pid()
        if pid is not None:
            _signal_group(pid, signal.SIGKILL)
            wait_until(lambda: not _group_alive(pid), 10, f"{self.name} (pid {pid}) exit after SIGKILL")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours is dead for our purposes; reap it when it is ours.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return _not_zombie(pid)


def _group_alive(pgid: int) -> bool:
    """The leader or any other process of process group ``pgid`` is still running (a zombie has
    already let go of its files and counts as gone)."""
    if _alive(pgid):
        return True
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone between the listing and the read
        if fields[2] == str(pgid) and (fields[0] != "Z" or _not_zombie(int(stat_file.parent.name))):
            return True
    return False


def _start_time(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since boot (``/proc/<pid>/stat``, field 22);
    None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def _not_zombie(pid: int) -> bool:
    """Some thread of process ``pid`` still runs. A process whose first thread has exited shows
    as a zombie while its other threads may still be exiting (or running): until the last one
    is gone, the process keeps its files open, and chDB's lock on its directory with them."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    for task in tasks:
        try:
            state = Path(f"/proc/{pid}/task/{task}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue  # gone between the listing and the read
        if state not in ("Z", "X"):
            return True
    return False


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
