"""Malformed exports are refused cleanly: `civicloop import` (the real entry point, in a child
process) prints one line naming the file and the line (or byte) and what to do, exits 2, shows
no traceback, and leaves nothing behind — the whole file is checked before anything is written.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from civicloop.tools.ingest import baltimore311
from civicloop.tools.ingest.csvfile import ImportFileError, check_file
from tests.data import BALTIMORE_SAMPLE

HEADER_AND_ROWS = BALTIMORE_SAMPLE.read_bytes().split(b"\n")[:301]  # header + 300 rows
GOOD = b"\n".join(HEADER_AND_ROWS[:201]) + b"\n"  # header + 200 rows, lines 1..201


def row(line: int) -> bytes:
    return HEADER_AND_ROWS[line - 1]


def with_line(at: int, text: bytes) -> bytes:
    """The good file with ``text`` put in as line ``at`` (the rest shifted down)."""
    lines = GOOD.split(b"\n")
    return b"\n".join([*lines[: at - 1], text, *lines[at - 1 :]])


def replaced_field(line: int, index: int, value: bytes) -> bytes:
    fields = row(line).split(b",")
    fields[index] = value
    return b",".join(fields)


CASES = {
    # a field past the csv module's limit, well inside the file
    "oversized_field": (with_line(150, replaced_field(3, 1, b'"' + b"x" * 140_000 + b'"')), "line 150"),
    # a Windows-1252 byte late in the file: the line and the byte offset are named
    "bad_encoding": (with_line(190, row(2).replace(b"Dorchester", b"Dorchester \x8e")), "line 190 (byte"),
    # a quote opened and never closed: it would swallow every later row
    "unterminated_quote": (with_line(120, replaced_field(4, 1, b'"unclosed')), "line 120"),
    # text after a closing quote
    "text_after_quote": (with_line(60, replaced_field(5, 1, b'"closed"then')), "line 60"),
    # a row with a field too few
    "short_row": (with_line(30, b",".join(row(6).split(b",")[:-1])), "line 30"),
}


def run_import(path: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CIVICLOOP_HOME": str(tmp_path), "COLUMNS": "80"}
    out = tmp_path / "events.jsonl"
    return subprocess.run(
        [sys.executable, "-m", "civicloop.cli", "import", "baltimore311", str(path), "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def assert_refused(done: subprocess.CompletedProcess[str], path: Path, where: str, tmp_path: Path) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ") and str(path) in lines[0] and where in lines[0]
    assert "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "events.jsonl").exists()  # nothing written from a bad file


@pytest.mark.parametrize("case", CASES)
def test_a_malformed_file_is_refused_with_its_line(tmp_path: Path, case: str) -> None:
    content, where = CASES[case]
    path = tmp_path / f"{case}.csv"
    path.write_bytes(content)

    assert_refused(run_import(path, tmp_path), path, where, tmp_path)


def test_a_directory_or_a_missing_file_is_named(tmp_path: Path) -> None:
    for path, what in ((tmp_path, "is a directory"), (tmp_path / "nope.csv", "no such file")):
        done = run_import(path, tmp_path)
        assert_refused(done, path, what, tmp_path)


def test_an_error_quoting_brackets_is_printed_as_it_is(tmp_path: Path) -> None:
    """A path (or a file's text) with ``[/x]`` in it once turned the one-line error into rich's
    MarkupError and a traceback."""
    folder = tmp_path / "[" / "x] [bold]exports"  # the path reads .../[/x] [bold]exports/...
    folder.mkdir(parents=True)
    path = folder / "missing.csv"
    assert_refused(run_import(path, tmp_path), path, "no such file", tmp_path)


def test_the_good_file_imports(tmp_path: Path) -> None:
    path = tmp_path / "good.csv"
    path.write_bytes(GOOD)
    done = run_import(path, tmp_path)
    assert done.returncode == 0, done.stderr
    assert len((tmp_path / "events.jsonl").read_text().splitlines()) > 200


@pytest.mark.parametrize("case", CASES)
def test_check_file_names_the_line_in_process(tmp_path: Path, case: str) -> None:
    content, where = CASES[case]
    path = tmp_path / f"{case}.csv"
    path.write_bytes(content)
    with pytest.raises(ImportFileError, match=where.replace("(", r"\(")):
        check_file(path, baltimore311.MAPPING)


def test_a_good_file_checks_to_its_row_count(tmp_path: Path) -> None:
    path = tmp_path / "good.csv"
    path.write_bytes(GOOD)
    assert check_file(path, baltimore311.MAPPING) == 200
