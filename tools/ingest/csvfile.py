"""Stream a city's CSV export through a `CityMapping` into events plus a report.

A malformed file is refused with an `ImportFileError` naming the file, the line (and for bad
bytes the byte offset) and what to do — never a traceback, never rows silently swallowed:

- bytes that are not UTF-8 (a byte-order mark is fine) are found line by line, so the error
  says where they are instead of "position 4673" of some buffer;
- the csv reader runs in strict mode: a quoted field never closed (the file ends inside it),
  text after a closing quote, or a field over the csv module's size limit (usually a quote
  opened and never closed) stop the import at the line where that record starts;
- a record with more or fewer fields than the header is refused too: a quote closed lines
  later swallows whole rows, and this is how that shows.

`check_file` reads the whole file this way before anything is produced, so a bad file leaves
nothing half-imported (docs/OPERATIONS.md, "Imports").
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from civicloop.schemas.event import Event
from civicloop.tools.ingest.report import ImportResult, Report
from civicloop.tools.ingest.rows import RowMapper
from civicloop.tools.ingest.spec import CityMapping

CHECK_QUOTES = 'check the quotes on that line: a quote inside a quoted field is written twice ("")'
CSV_PROBLEMS = {  # the csv module's message → what it means for an export
    "unexpected end of data": "a quoted field starting on this line is never closed "
    "(the file ends inside it)",
    "expected after": "text follows a closing quote",
    "field larger than field limit": f"a field is longer than {csv.field_size_limit():,} characters, "
    "most often because a quote opened on this line is never closed",
}


class ImportFileError(ValueError):
    """The file cannot be read as a CSV export: where, what, and what to do."""

    def __init__(self, path: str | Path, where: str, problem: str, todo: str) -> None:
        super().__init__(f"{path}{', ' + where if where else ''}: {problem}; {todo}")


class MissingColumns(ImportFileError):
    """The file lacks columns the mapping cannot do without."""


def opened(path: str | Path) -> BinaryIO:
    """``path`` open for reading, or an ImportFileError saying why it cannot be."""
    file = Path(path)
    if file.is_dir():
        raise ImportFileError(path, "", "is a directory", "give the path of the CSV export file itself")
    try:
        return file.open("rb")
    except FileNotFoundError:
        raise ImportFileError(path, "", "no such file", "check the path") from None
    except OSError as exc:
        raise ImportFileError(path, "", f"cannot be read ({exc.strerror})", "check its permissions") from None


def _lines(handle: BinaryIO, path: str | Path) -> Iterator[str]:
    """Each physical line decoded as UTF-8 (line ends kept for the csv reader). UTF-8 never
    puts a newline byte inside a character, so splitting bytes at newlines first is safe."""
    offset = 0
    for number, raw in enumerate(handle, start=1):
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            bad = raw[exc.start : exc.start + 1].hex()
            raise ImportFileError(
                path,
                f"line {number} (byte {offset + exc.start})",
                f"byte 0x{bad} is not UTF-8 text",
                "save the export as UTF-8 (e.g. `iconv -f WINDOWS-1252 -t UTF-8`) and import that",
            ) from None
        offset += len(raw)


def records(handle: BinaryIO, path: str | Path) -> Iterator[tuple[int, list[str]]]:
    """(line where the record starts, fields) for every non-blank record, the header first."""
    reader = csv.reader(_lines(handle, path), strict=True)
    start, width = 1, None
    try:
        for fields in reader:
            if fields:
                if width is not None and len(fields) != width:
                    raise ImportFileError(
                        path,
                        f"line {start}",
                        f"{len(fields)} fields where the header has {width}",
                        "a quote closed on a later line swallows rows, or a separator is missing "
                        "or extra: fix that row",
                    )
                width = width or len(fields)
                yield start, fields
            start = reader.line_num + 1
    except csv.Error as exc:
        text = str(exc)
        problem = next((v for k, v in CSV_PROBLEMS.items() if k in text), f"not valid CSV ({text})")
        if reader.line_num > start and "end of data" not in text:
            problem = f"a quoted field opened on this line runs on to line {reader.line_num} ({problem})"
        raise ImportFileError(path, f"line {start}", problem, CHECK_QUOTES) from None


def check_file(path: str | Path, mapping: CityMapping) -> int:
    """Read all of ``path`` as ``mapping``'s export; return its data rows, or raise
    ImportFileError at the first malformed line. Nothing is produced from a file that fails."""
    with opened(path) as handle:
        rows = records(handle, path)
        _header(path, rows, mapping)
        return sum(1 for _ in rows)


def read_csv(path: str | Path, mapping: CityMapping, tz: str | None = None) -> ImportResult:
    """Events of every row of `path`, in file order (a case's events in lifecycle order).

    The header is checked now, the rows are read lazily; the report is complete once the
    events are exhausted. A byte-order mark and CRLF line ends (spreadsheet exports) are fine.
    """
    handle = opened(path)
    try:
        rows = records(handle, path)
        header = _header(path, rows, mapping)
    except ImportFileError:
        handle.close()
        raise
    report = Report(source=str(path))
    report.missing_columns = [c for c in vars_of(mapping) if c is not None and c not in header]
    mapper = RowMapper(mapping, tz or mapping.timezone, report)
    return ImportResult(_events(handle, rows, header, mapper, report), report)


def _header(path: str | Path, rows: Iterator[tuple[int, list[str]]], mapping: CityMapping) -> list[str]:
    header = [name.strip() for name in next(rows, (0, []))[1]]
    absent = [c for c in mapping.columns.required if c not in header]
    if absent:
        raise MissingColumns(
            path,
            "line 1",
            f"no column {absent} (needed by the {mapping.importer} mapping); the header has {header[:12]}",
            f"is this a {mapping.importer} export?",
        )
    return header


def _events(
    handle: BinaryIO,
    rows: Iterator[tuple[int, list[str]]],
    header: list[str],
    mapper: RowMapper,
    report: Report,
) -> Iterator[Event]:
    with handle:
        for _, fields in rows:
            report.rows_read += 1
            yield from mapper.events(dict(zip(header, fields, strict=True)))


def vars_of(mapping: CityMapping) -> list[str | None]:
    cols = mapping.columns
    return [getattr(cols, name) for name in cols.__slots__]  # type: ignore[attr-defined]
