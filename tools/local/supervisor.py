"""Keeping a process running: restart it when it dies, with backoff (``civicloop up``).

The supervisor runs the child in its own process group (so ``civicloop down`` stops both with
one signal), waits for it, and when it exits without having been asked to stop, starts it
again after a delay that doubles from ``first_delay`` (CIVICLOOP_SUPERVISOR_BACKOFF, 1 s by
default) up to ``MAX_DELAY_S`` — reset once a child has run for ``STEADY_S`` — logging each exit.
SIGTERM/SIGINT stop it: the child is sent SIGTERM (it stops within its own bound,
``streams/worker.py``) and is not restarted. Its status — child pid, restarts, last exit code —
is kept in a JSON file next to its pid file, for ``civicloop status`` and the chaos benchmark
(which kills children, not supervisors).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from civicloop import log

_log = log.get(__name__)

FIRST_DELAY_S = 1.0
MAX_DELAY_S = 30.0
STEADY_S = 60.0


@dataclass
class Status:
    child_pid: int | None = None
    restarts: int = 0
    last_exit_code: int | None = None
    started_at: float | None = None  # when the current child started


def read_status(path: Path) -> Status | None:
    """The supervisor's last written status, or None."""
    try:
        return Status(**json.loads(path.read_text()))
    except (FileNotFoundError, ValueError, TypeError):
        return None


class Supervisor:
    def __init__(
        self,
        argv: Sequence[str],
        status_file: Path,
        env: dict[str, str] | None = None,
        first_delay: float = FIRST_DELAY_S,
    ) -> None:
        self.argv, self.status_file, self.env, self.first_delay = list(argv), status_file, env, first_delay
        self.status = Status()
        self.child: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()

    def run(self) -> int:
        """Keep the child running until SIGTERM/SIGINT; return the exit status to use."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        delay = self.first_delay
        while not self._stop.is_set():
            started = time.monotonic()
            code = self._run_child()
            if self._stop.is_set():
                break
            if time.monotonic() - started >= STEADY_S:
                delay = self.first_delay
            self.status.restarts += 1
            _log.warning("child_exited", argv=self.argv[-1], code=code, restart_in_s=delay)
            self._stop.wait(delay)
            delay = min(delay * 2, MAX_DELAY_S)
        self.status_file.unlink(missing_ok=True)
        return 0

    def _run_child(self) -> int:
        self.child = subprocess.Popen(self.argv, env=self.env)
        self.status.child_pid, self.status.started_at = self.child.pid, time.time()
        self._write()
        code = self.child.wait()
        self.status.child_pid, self.status.last_exit_code = None, code
        self._write()
        return code

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stop.set()
        child = self.child
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)

    def _write(self) -> None:
        tmp = self.status_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self.status)))
        os.replace(tmp, self.status_file)  # readers never see half a file


def as_dict(status: Status | None) -> dict[str, Any]:
    return asdict(status) if status else {}
