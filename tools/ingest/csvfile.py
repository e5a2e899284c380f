"""Stream a city's CSV export through a `CityMapping` into events plus a report."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from civicloop.schemas.event import Event
from civicloop.tools.ingest.report import ImportResult, Report
from civicloop.tools.ingest.rows import RowMapper
from civicloop.tools.ingest.spec import CityMapping


class MissingColumns(ValueError):
    """The file lacks columns the mapping cannot do without."""


def read_csv(path: str | Path, mapping: CityMapping, tz: str | None = None) -> ImportResult:
    """Events of every row of `path`, in file order (a case's events in lifecycle order).

    The header is checked now, the rows are read lazily; the report is complete once the
    events are exhausted. A byte-order mark and CRLF line ends (spreadsheet exports) are fine.
    """
    handle = open(path, encoding="utf-8-sig", newline="")
    reader = csv.DictReader(handle)
    header = [name.strip() for name in reader.fieldnames or []]
    reader.fieldnames = header
    absent = [c for c in mapping.columns.required if c not in header]
    if absent:
        handle.close()
        raise MissingColumns(
            f"{path}: no column {absent} (needed by the {mapping.importer} "
            f"mapping); the header has {header[:12]}…"
        )
    report = Report(source=str(path))
    wanted = [c for c in vars_of(mapping) if c is not None]
    report.missing_columns = [c for c in wanted if c not in header]
    mapper = RowMapper(mapping, tz or mapping.timezone, report)
    return ImportResult(_rows(handle, reader, mapper, report), report)


def _rows(handle: TextIO, reader: csv.DictReader[str], mapper: RowMapper, report: Report) -> Iterator[Event]:
    with handle:
        for row in reader:
            report.rows_read += 1
            yield from mapper.events(row)


def vars_of(mapping: CityMapping) -> list[str | None]:
    cols = mapping.columns
    return [getattr(cols, name) for name in cols.__slots__]  # type: ignore[attr-defined]
