"""Crypto-shredding through the real broker and worker: no plaintext contact anywhere in
ClickHouse, the handler can read it back, and after `civicloop erase` nobody can."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from civicloop.cli import app
from civicloop.config import Config
from civicloop.privacy import KeyStore
from civicloop.projections.tables import schema
from civicloop.tools.demo import reports
from tests.support.workers import Worker, deployment, produce, wait_projected

pytestmark = pytest.mark.integration


@pytest.fixture
def config(tmp_path: Path, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> Config:
    return deployment(tmp_path, monkeypatch, kafka_bootstrap=kafka_bootstrap, watchdog_interval=0)


def test_contacts_are_sealed_readable_and_erasable(config: Config, worker: Worker) -> None:
    keys = KeyStore(config.keystore)
    events = list(reports("pii", 40, keys=keys))
    keys.close()
    wait_projected(config, produce(config, events), 60)
    reader = worker.reader()
    assert reader.query(f"SELECT count() FROM {config.database}.case_lifecycle FINAL") == [(40,)]

    first = events[0]
    phone = _phone(config, first.case_id)
    assert phone.startswith("+1-410-555-")

    def rows_containing(table: str, text: str) -> int:
        return int(
            reader.query(
                f"SELECT count() FROM {config.database}.{table} WHERE "
                f"position(toString(tuple(*)), '{text}') > 0"
            )[0][0]
        )

    assert rows_containing("event_log", first["reporter_ref"]) == 1, "the search does find text"
    for table in schema.NAMES:  # the plaintext is nowhere in ClickHouse, in any column
        assert rows_containing(table, phone) == 0, table

    erased = CliRunner().invoke(app, ["erase", first["reporter_ref"]])
    assert erased.exit_code == 0 and "1 key(s) deleted" in erased.output

    assert _phone(config, first.case_id) == "the reporter was erased: contact unreadable"
    others = [e for e in events if e["reporter_ref"] != first["reporter_ref"]]
    assert _phone(config, others[0].case_id).startswith("+1-410-555-"), "only that reporter is erased"


def _phone(config: Config, case_id: str) -> str:
    shown = CliRunner().invoke(app, ["contact", case_id])
    assert shown.exit_code == 0, shown.output
    return shown.output.strip()
