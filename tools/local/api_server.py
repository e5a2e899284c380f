"""``civicloop api`` in the background: started by ``civicloop up``, the demo and the tests."""

from __future__ import annotations

import json
import os
import sys
import urllib.request

from civicloop.config import Config, to_env
from civicloop.tools.local.process import Managed, wait_until


def api_process(config: Config) -> Managed:
    return Managed("api", config.var)


def api_url(config: Config) -> str:
    host = "127.0.0.1" if config.api_host in ("0.0.0.0", "") else config.api_host
    return f"http://{host}:{config.api_port}"


def api_health(config: Config, timeout: float = 2.0) -> bool:
    """Whether an API answers on the configured address."""
    try:
        with urllib.request.urlopen(f"{api_url(config)}/health", timeout=timeout) as response:
            return bool(json.loads(response.read()).get("status") == "ok")
    except (OSError, ValueError):
        return False


def start_api(config: Config, timeout: float = 60.0) -> int:
    """Start ``civicloop api`` in the background and wait until it answers."""
    process = api_process(config)
    pid = process.pid()
    if pid is not None:
        return pid
    if api_health(config):  # not ours: our readiness check could not tell them apart
        raise RuntimeError(
            f"an API already answers at {api_url(config)} (another deployment?): "
            "set CIVICLOOP_API_PORT to a free port"
        )
    env = {**os.environ, **to_env(config), "PYTHONUNBUFFERED": "1"}
    pid = process.start([sys.executable, "-m", "civicloop.cli", "api"], env=env)
    try:
        wait_until(lambda: _ready(config, process), timeout, "API start")
    except TimeoutError:
        tail = process.log_tail(40)
        process.stop()
        raise RuntimeError(f"the API did not become ready; its log ends:\n{tail}") from None
    return pid


def _ready(config: Config, process: Managed) -> bool:
    if process.pid() is None:
        tail = process.log_tail(40)
        hint = (
            f"\nport {config.api_port} is taken: set CIVICLOOP_API_PORT to a free one"
            if "address already in use" in tail
            else ""
        )
        raise RuntimeError(f"the API exited during start-up:\n{tail}{hint}")
    return api_health(config)
