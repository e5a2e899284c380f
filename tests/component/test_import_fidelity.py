"""Imports give the numbers the export implies (docs/DESIGN.md §6), on every backend.

Given a city's CSV — the real Baltimore sample, and every NYC fixture — when it is imported,
folded, written as projection rows and read back through the metric SQL by department, then
each agency's reported / closed / closed_on_time / p50 report→close equal a computation
straight from the CSV (``tests/support/reference_import.py``, which imports nothing of
civicloop).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from civicloop.projections.fold.casestate import CaseState
from civicloop.projections.fold.lifecycle import fold
from civicloop.projections.metrics.closed_loop import metrics
from civicloop.projections.store.base import Store
from civicloop.projections.tables.rows import case_row, task_rows
from civicloop.tools.ingest import baltimore311, nyc311
from civicloop.tools.ingest.report import ImportResult
from tests.data import BALTIMORE_SAMPLE, NYC
from tests.support import reference_import as ref
from tests.support.rows import write_rows

FILES = [
    pytest.param(BALTIMORE_SAMPLE, baltimore311.read, ref.BALTIMORE, id="baltimore"),
    *(pytest.param(path, nyc311.read, ref.NYC, id=path.stem) for path in sorted(NYC.glob("*.csv"))),
]
NOW = datetime(2030, 1, 1, tzinfo=UTC)


def projected(store: Store, database: str, result: ImportResult) -> None:
    """Fold every imported case (an illegal event raises) and write its rows."""
    cases: dict[str, CaseState | None] = {}
    for event in result:
        cases[event.case_id] = fold(cases.get(event.case_id), event)
    folded = [c for c in cases.values() if c is not None]
    store.lay_out(database)
    write_rows(store, database, [case_row(c) for c in folded], [t for c in folded for t in task_rows(c)])


@pytest.mark.parametrize(("path", "read", "export"), FILES)
def test_per_agency_figures_are_the_exports(store: Store, database: str, path: Path, read, export) -> None:
    # given the export imported and projected
    projected(store, database, read(path))
    # when the metrics are read by department over all time
    got = {
        row["group"]: {k: row[k] for k in ref.KEYS} for row in metrics(store.query, database, "department")
    }
    # then every agency's figures are the ones the CSV implies
    assert got == ref.by_agency((path, export))


def test_baltimore_duplicates_count_under_their_agency() -> None:
    # given the sample's 217 duplicates (by status); when imported
    result = baltimore311.read(BALTIMORE_SAMPLE)
    voided = [e for e in result if e.type == "CaseVoided"]
    # then each is voided (never closed, never dispatched) naming the agency the export gives
    assert len(voided) == result.report.unmapped["duplicate_status"] == 217
    assert all(e["department"] for e in voided)
    assert result.report.disagreements == {}  # the sample's statuses agree with its times


def test_status_text_that_disagrees_with_the_times_is_reported_by_reason() -> None:
    # given the NYC fixtures: "Open" with a close time, "Closed" without one, a close time
    # before creation; when imported, then each is counted under its reason
    found = {}
    for path in sorted(NYC.glob("*.csv")):
        result = nyc311.read(path)
        list(result)
        found[path.stem] = result.report.disagreements
    assert found == {
        "iso_2019": {"close_before_create": 1, "close_date_on_open_status": 1},
        "us12h_bom_crlf_2013": {"missing_close_date_on_closed_status": 1},
        "us24h_2digit_old_2018": {},
    }
