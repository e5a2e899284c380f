"""After the demo, the key store that seals the reporters' contacts is private: the file 0600,
its directory 0700 (what `make demo` runs, on a small scale)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from civicloop.config import Config
from civicloop.tools import demo
from civicloop.tools.local import stack
from tests.support.workers import deployment

pytestmark = pytest.mark.integration


def test_the_key_store_is_0600_in_a_0700_directory_after_the_demo(
    tmp_path: Path, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config: Config = deployment(tmp_path, monkeypatch, kafka_bootstrap=kafka_bootstrap, watchdog_interval=0)

    assert demo.run(config, count=20, days=1) == 0

    assert stack.worker_process(config).pid() is None, "the demo stopped the worker it started"
    assert stack.notifier_process(config).pid() is None, "the demo stopped the notifier it started"
    mode = stat.S_IMODE(config.keystore.stat().st_mode)
    directory = stat.S_IMODE(config.keystore.parent.stat().st_mode)
    assert (oct(mode), oct(directory)) == (oct(0o600), oct(0o700))
