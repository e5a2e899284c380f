"""The Baltimore 311 sample through the real broker and worker: per-agency figures from
`civicloop metrics --by department --format json` equal a computation straight from the CSV."""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from civicloop.cli import app
from civicloop.config import Config
from civicloop.stats import quantile_exact
from tests.data import BALTIMORE_SAMPLE
from tests.support.workers import Worker

pytestmark = pytest.mark.integration
SAMPLE = BALTIMORE_SAMPLE
EASTERN = ZoneInfo("America/New_York")


def _when(text: str) -> int | None:
    """Naive Eastern time → epoch seconds; ambiguous and missing hours take fold=0 (the
    offset in force before the change), the importer's documented rule."""
    if not text:
        return None
    naive = datetime.strptime(text, "%m/%d/%Y %I:%M:%S %p")
    return int(naive.replace(tzinfo=EASTERN).astimezone(UTC).timestamp())


def expected_by_agency() -> dict[str, dict[str, int | None]]:
    """Independent of civicloop: the csv module, the zone database, the documented rules."""
    groups: dict[str, Counter[str]] = defaultdict(Counter)
    durations: dict[str, list[int]] = defaultdict(list)
    with open(SAMPLE, newline="", encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            duplicate = "(Duplicate)" in row["SRStatus"]
            # Duplicates are voided before dispatch, so no department owns them.
            agency = "" if duplicate else row["Agency"]
            created, due, closed = _when(row["CreatedDate"]), _when(row["DueDate"]), _when(row["CloseDate"])
            is_closed = (
                not duplicate
                and row["SRStatus"].startswith("Closed")
                and closed is not None
                and closed >= created
            )
            counts = groups[agency]
            counts["reported"] += 1
            counts["closed"] += is_closed
            counts["closed_on_time"] += bool(is_closed and due is not None and closed <= due)
            if is_closed:
                durations[agency].append(closed - created)
    return {
        agency: {**counts, "p50_report_to_close_s": quantile_exact(durations[agency], 0.5)}
        for agency, counts in groups.items()
    }


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

    shown = runner.invoke(app, ["metrics", "--by", "department", "--format", "json"])
    assert shown.exit_code == 0, shown.output
    got = {
        row["group"]: {
            key: row[key] for key in ("reported", "closed", "closed_on_time", "p50_report_to_close_s")
        }
        for row in json.loads(shown.output)
    }

    assert got == expected_by_agency()
