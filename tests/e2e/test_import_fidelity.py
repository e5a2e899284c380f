"""City exports through the real broker and worker: per-agency figures from
`civicloop metrics --by department --format json` equal a computation straight from the CSVs
(the Baltimore sample and every NYC fixture, imported into one deployment)."""

from __future__ import annotations

import csv
import json
from collections import Counter

import pytest
from confluent_kafka.admin import AdminClient
from typer.testing import CliRunner

from civicloop.cli import app
from civicloop.config import Config
from tests.data import BALTIMORE_SAMPLE, NYC
from tests.support import reference_import as ref
from tests.support.workers import Worker

pytestmark = pytest.mark.integration
SAMPLE = BALTIMORE_SAMPLE


def known_quirks() -> Counter[str]:
    quirks: Counter[str] = Counter()
    with open(SAMPLE, newline="", encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            quirks["missing_due_date"] += not row["DueDate"]
            quirks["duplicate_status"] += "(Duplicate)" in row["SRStatus"]
            quirks["missing_coordinates"] += not row["Latitude"] or not row["Longitude"]
            quirks["placeholder_coordinates"] += (row["Latitude"], row["Longitude"]) == ("39", "-77")
    return quirks


def test_imported_history_gives_the_numbers_the_export_implies(config: Config, worker: Worker) -> None:
    runner = CliRunner()
    imported = runner.invoke(
        app, ["import", "baltimore311", str(SAMPLE), "--wait", "--timeout", "300"], env={"COLUMNS": "200"}
    )
    assert imported.exit_code == 0, imported.output
    for reason, count in known_quirks().items():
        assert f"│ {reason} " in imported.output and f" {count} │" in imported.output, reason
    nyc = sorted(NYC.glob("*.csv"))
    for path in [*nyc, nyc[0]]:  # the first one twice: a re-run changes nothing
        done = runner.invoke(app, ["import", "nyc311", str(path), "--wait"], env={"COLUMNS": "200"})
        assert done.exit_code == 0, done.output

    shown = runner.invoke(app, ["metrics", "--by", "department", "--format", "json"])
    assert shown.exit_code == 0, shown.output
    got = {row["group"]: {key: row[key] for key in ref.KEYS} for row in json.loads(shown.output)}

    assert got == ref.by_agency((SAMPLE, ref.BALTIMORE), *((path, ref.NYC) for path in nyc))
    # the re-import sent the same bytes under the same ids: redeliveries, no other bodies
    conflicting = worker.reader().query(
        f"SELECT count() FROM {config.database}.dead_letters FINAL WHERE reason = 'conflicting_duplicate'"
    )
    assert conflicting == [(0,)]


def test_a_malformed_file_produces_nothing(config: Config, tmp_path) -> None:
    # given a Baltimore export whose line 180 has a byte that is not UTF-8
    lines = SAMPLE.read_bytes().split(b"\n")[:400]
    lines[179] = lines[179].replace(b",", b",\xff", 1)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\n".join(lines) + b"\n")
    # when imported to Kafka
    done = CliRunner().invoke(app, ["import", "baltimore311", str(bad)])
    # then it is refused at that line, and not one event reached the topic
    assert done.exit_code != 0 and "line 180" in str(done.exception)
    admin = AdminClient({"bootstrap.servers": config.kafka_bootstrap})
    assert config.events_topic not in admin.list_topics(timeout=15).topics
