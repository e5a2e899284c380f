"""``civicloop up`` starts the API beside the worker, ``status`` shows it, ``down`` stops it."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from civicloop.tools.local import stack
from civicloop.tools.local.api_server import api_url
from tests.support.workers import deployment

pytestmark = pytest.mark.integration


def test_up_starts_the_api_and_the_notifier_and_down_stops_them(
    tmp_path: Path, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = deployment(tmp_path, monkeypatch, kafka_bootstrap=kafka_bootstrap, watchdog_interval=0)
    stack.up(config)
    try:
        parts = {part.name: part for part in stack.status(config)}
        assert parts["api"].state == "running" and parts["worker"].state in ("ok", "degraded")
        assert parts["api"].detail == f"{api_url(config)}/docs"
        assert parts["notifier"].state == "running" and "lag" in parts["notifier"].detail
        with urllib.request.urlopen(f"{api_url(config)}/open311/v2/services.json", timeout=10) as response:
            assert json.loads(response.read())[0]["service_code"]
    finally:
        stopped = stack.down(config)
    assert stopped == ["api", "notifier", "worker"]
    assert {part.name: part for part in stack.status(config)}["api"].state == "stopped"
