"""``civicloop produce`` without Kafka: parsing, reporting and skipping lines, exit statuses."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from civicloop import log
from civicloop.cli import produce
from civicloop.schemas.event import Event
from civicloop.tools.ingest.jsonl import ProduceSummary, read_events
from tests.support.event_lines import KINDS, bad_line, line, valid_object


class ListSink:
    """Stands in for EventProducer: keeps what was sent."""

    def __init__(self) -> None:
        self.sent: list[Event] = []

    def send(self, event: Event) -> None:
        self.sent.append(event)

    def flush(self, timeout: float = 60.0) -> None:
        pass


def _lines(*texts: str) -> list[bytes]:
    return [f"{text}\n".encode() for text in texts]


def test_valid_lines_are_sent_in_order() -> None:
    # given three valid lines of different types
    objs = [valid_object(n) for n in (0, 7, 8)]
    sink = ListSink()
    # when they are read
    summary = read_events(_lines(*map(line, objs)), sink)
    # then each is sent once, in order, and nothing is bad
    assert [e.event_id for e in sink.sent] == [o["event_id"] for o in objs]
    assert [e.type for e in sink.sent] == [o["type"] for o in objs]
    assert (summary.read, summary.produced, summary.bad) == (3, 3, [])


def test_blank_lines_are_skipped_silently() -> None:
    sink = ListSink()
    summary = read_events(_lines("", line(valid_object(0)), "   ", "\t"), sink)
    assert (summary.read, summary.produced, summary.blank, summary.bad) == (4, 1, 3, [])


@pytest.mark.parametrize("kind", KINDS)
def test_a_bad_line_is_reported_with_its_number_and_field_and_skipped(kind: str) -> None:
    # given a broken line between two good ones
    broken, field = bad_line(kind, 1)
    sink = ListSink()
    # when read
    summary = read_events(_lines(line(valid_object(0)), broken, line(valid_object(2))), sink)
    # then line 2 is reported, naming the field, and both good lines still go out
    [bad] = summary.bad
    assert bad.line_no == 2
    assert bad.field == field
    assert field in bad.reason if field else bad.reason.startswith("invalid JSON")
    assert summary.produced == 2 and len(sink.sent) == 2


def test_reasons_quote_the_offending_value() -> None:
    summary = read_events(_lines(bad_line("bad_enum", 1)[0], bad_line("lat_out_of_range", 2)[0]), ListSink())
    assert "'carrier_pigeon'" in summary.bad[0].reason
    assert "95.5" in summary.bad[1].reason and "between -90 and 90" in summary.bad[1].reason


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"[1, 2]\n", "expected a JSON object"),
        (b"\xff\xfe{}\n", "not UTF-8 text: byte 1"),
        (b'{"type": "CaseReported"\n', "invalid JSON"),
        (b'"just a string"\n', "expected a JSON object"),
    ],
)
def test_lines_that_are_not_json_objects_are_bad(raw: bytes, expected: str) -> None:
    summary = read_events([raw], ListSink())
    assert expected in summary.bad[0].reason


def test_rejects_get_every_bad_line_in_full(tmp_path: Path) -> None:
    # given 60 bad lines (more than the 50 the terminal shows)
    broken = [bad_line(KINDS[n % len(KINDS)], n)[0] for n in range(60)]
    rejects = io.StringIO()
    # when read with a rejects stream
    read_events(_lines(*broken), ListSink(), rejects=rejects)
    # then each bad line is there with its number, reason and exact text
    records = [json.loads(r) for r in rejects.getvalue().splitlines()]
    assert [r["line"] for r in records] == list(range(1, 61))
    assert [r["text"] for r in records] == broken
    assert all(r["reason"] for r in records)


def test_progress_reports_bytes_and_finishes_at_the_end() -> None:
    lines = _lines(*(line(valid_object(n)) for n in range(2500)))
    seen: list[tuple[int, int]] = []
    read_events(lines, ListSink(), progress=lambda done, s: seen.append((done, s.read)))
    assert seen[-1] == (sum(map(len, lines)), 2500)
    assert [n for _, n in seen] == sorted(n for _, n in seen)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(n=st.integers(0, 99), name=st.sampled_from(sorted(valid_object(0))), value=json_values)
def test_any_json_line_is_either_sent_or_reported(n: int, name: str, value: object) -> None:
    # given a valid line with one field replaced by arbitrary JSON
    obj = {**valid_object(n), name: value}
    sink = ListSink()
    # when read, then it is sent or reported with a reason: never an exception
    summary = read_events([json.dumps(obj).encode()], sink)
    assert summary.produced + len(summary.bad) == 1
    assert all(bad.reason for bad in summary.bad)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    yield
    # The command configured structlog onto CliRunner's stderr, which is closed by now: any later
    # log line (in this or another test) would raise "I/O operation on closed file".
    log.configure(level="warning")


def _cli() -> typer.Typer:
    app = typer.Typer()
    produce.register(app)
    app.command("noop", hidden=True)(lambda: None)  # two commands, so `produce` is a subcommand
    return app


def _unwrapped(output: str) -> str:
    return " ".join(output.split())  # rich wraps long messages at the terminal width


@pytest.mark.usefixtures("restore_logging")
def test_cli_exits_2_when_the_file_is_missing(tmp_path: Path) -> None:
    result = CliRunner().invoke(_cli(), ["produce", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2
    assert "nope.jsonl: no such file" in _unwrapped(result.output)


@pytest.mark.usefixtures("restore_logging")
def test_cli_exits_2_when_there_is_no_kafka(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # given a file but no broker configured and none running under CIVICLOOP_HOME
    monkeypatch.setenv("CIVICLOOP_HOME", str(tmp_path))
    monkeypatch.setenv("CIVICLOOP_KAFKA_BOOTSTRAP", "")
    events = tmp_path / "events.jsonl"
    events.write_text(line(valid_object(0)) + "\n")
    # when produced, then it says how to get a broker and exits 2
    result = CliRunner().invoke(_cli(), ["produce", str(events)])
    assert result.exit_code == 2
    assert "civicloop kafka up" in _unwrapped(result.output)


def test_summary_counts_what_was_read() -> None:
    summary = ProduceSummary(read=10, produced=7, elapsed=2.0)
    assert (summary.blank, summary.events_per_s) == (3, 3.5)
