"""``civicloop produce FILE``: JSON Lines in, validated Avro events onto the case-events topic.

Each line goes through ``event_from_json`` (schema and domain rules), so nothing reaches Kafka
that a worker would have to dead-letter. Bad lines are reported with their number and reason
and skipped; the good ones are still produced. Lines should carry ``event_id``: then producing
a file again (after fixing its rejects, or after an interrupt) is harmless, because
projections are idempotent by event_id.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TextIO

from civicloop.schemas.event import Event
from civicloop.schemas.events import EventValidationError, event_from_json

_PROGRESS_EVERY = 1000  # lines; a progress update per line would cost more than the parsing


class Sink(Protocol):
    def send(self, event: Event) -> None: ...


class FlushingSink(Sink, Protocol):
    def flush(self, timeout: float = ...) -> None: ...


@dataclass(frozen=True)
class BadLine:
    line_no: int
    reason: str
    field: str | None = None  # the offending field, when the line was JSON but not a valid event


class LineError(ValueError):
    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.field = field


@dataclass
class ProduceSummary:
    read: int = 0  # every line, blank ones included
    produced: int = 0
    bad: list[BadLine] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def blank(self) -> int:
        return self.read - self.produced - len(self.bad)

    @property
    def events_per_s(self) -> float:
        return self.produced / self.elapsed if self.elapsed > 0 else 0.0


OnProgress = Callable[[int, ProduceSummary], None]  # (bytes read so far, counts so far)


def parse_line(raw: bytes) -> Event:
    """One JSON Lines record as a validated event; raises LineError saying what is wrong."""
    try:
        # Without its line break, so a JSON error's column is a column of this line.
        obj = json.loads(raw.decode("utf-8").rstrip("\r\n"))
    except UnicodeDecodeError as exc:
        raise LineError(
            f"not UTF-8 text: byte {exc.start + 1} is {raw[exc.start : exc.start + 1]!r}"
        ) from None
    except json.JSONDecodeError as exc:
        raise LineError(f"invalid JSON: {exc.msg} (column {exc.colno})") from None
    try:
        return event_from_json(obj)
    except EventValidationError as exc:  # its message names the field and the offending value
        raise LineError(str(exc), exc.field) from None


def read_events(
    lines: Iterable[bytes], sink: Sink, progress: OnProgress | None = None, rejects: TextIO | None = None
) -> ProduceSummary:
    """Parse every line and send the good ones to ``sink`` (delivery is the caller's flush)."""
    summary, consumed = ProduceSummary(), 0
    for line_no, raw in enumerate(lines, start=1):
        summary.read, consumed = line_no, consumed + len(raw)
        if raw.strip():  # blank lines (a trailing newline, spacing) are not events, nor errors
            _take(summary, raw, sink, rejects)
        if progress is not None and summary.read % _PROGRESS_EVERY == 0:
            progress(consumed, summary)
    if progress is not None:
        progress(consumed, summary)
    return summary


def _take(summary: ProduceSummary, raw: bytes, sink: Sink, rejects: TextIO | None) -> None:
    try:
        event = parse_line(raw)
    except LineError as exc:
        bad = BadLine(summary.read, str(exc), exc.field)
        summary.bad.append(bad)
        if rejects is not None:  # written as found, so the full text of bad lines never piles up
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            record = {"line": bad.line_no, "field": bad.field, "reason": bad.reason, "text": text}
            rejects.write(json.dumps(record, ensure_ascii=False) + "\n")
        return
    sink.send(event)
    summary.produced += 1


def produce_file(
    path: Path, producer: FlushingSink, progress: OnProgress | None = None, rejects: TextIO | None = None
) -> ProduceSummary:
    """Produce the good lines of ``path`` (``-``: stdin); returns once Kafka confirmed them all.

    Raises OSError when the file cannot be read, DeliveryError when Kafka refused a send.
    """
    started = time.perf_counter()
    if str(path) == "-":
        summary = read_events(sys.stdin.buffer, producer, progress, rejects)
    else:
        with path.open("rb") as lines:
            summary = read_events(lines, producer, progress, rejects)
    # Events count as produced only once the broker acknowledged every one of them.
    producer.flush()
    summary.elapsed = time.perf_counter() - started
    return summary
