"""``civicloop produce`` against the real broker: exactly the good lines arrive, bad ones are named."""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from confluent_kafka import Consumer, TopicPartition
from typer.testing import CliRunner

from civicloop import log
from civicloop.cli import produce
from civicloop.config import Config, to_env
from civicloop.schemas.codec import decode
from civicloop.streams.kafka import ensure_topics
from civicloop.streams.producer import EventProducer
from civicloop.tools.ingest.jsonl import produce_file
from tests.conftest import make_config
from tests.support.event_lines import KINDS, bad_line, line, valid_object

pytestmark = pytest.mark.integration
LINES = 100_000


@pytest.fixture
def config(tmp_path: Path, kafka_bootstrap: str) -> Config:
    config = make_config(tmp_path, kafka_bootstrap=kafka_bootstrap)
    ensure_topics(config)
    return config


@pytest.fixture
def restore_logging() -> Iterator[None]:
    yield
    # The command configured structlog onto CliRunner's stderr, which is closed by now: any later
    # log line (in this or another test) would raise "I/O operation on closed file".
    log.configure(level="warning")


Blame = dict[int, str | None]  # bad line number -> the field its report must name


def _write(path: Path, lines: int, bad_at: dict[int, str], blank_at: set[int]) -> tuple[set[str], Blame]:
    """Write the file; return the good lines' event ids and what each bad line must blame."""
    good: set[str] = set()
    blame: Blame = {}
    with path.open("w") as out:
        for n in range(1, lines + 1):
            if n in blank_at:
                out.write("\n")
            elif n in bad_at:
                text, blame[n] = bad_line(bad_at[n], n)
                out.write(text + "\n")
            else:
                obj = valid_object(n)
                good.add(obj["event_id"])
                out.write(line(obj) + "\n")
    return good, blame


def _consume_ids(config: Config, expected: int, timeout: float = 60.0) -> list[str]:
    consumer = Consumer(
        {
            "bootstrap.servers": config.kafka_bootstrap,
            "auto.offset.reset": "earliest",
            "group.id": f"{config.namespace}-check-{uuid.uuid4().hex[:6]}",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([config.events_topic])
    ids: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while len(ids) < expected and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=10_000, timeout=1.0):
                assert msg.error() is None, msg.error()
                ids.append(decode(msg.value() or b"").event_id)
    finally:
        consumer.close()
    return ids


def _messages_in_topic(config: Config) -> int:
    consumer = Consumer({"bootstrap.servers": config.kafka_bootstrap, "group.id": "watermarks"})
    try:
        partitions = range(config.partitions)
        return sum(
            consumer.get_watermark_offsets(TopicPartition(config.events_topic, p), timeout=10)[1]
            for p in partitions
        )
    finally:
        consumer.close()


def test_a_large_file_produces_exactly_its_good_lines(tmp_path: Path, config: Config) -> None:
    # given 100,000 lines with ~50 broken ones of every kind (first and last line included)
    rng = random.Random(5)
    numbers = [1, LINES, *rng.sample(range(2, LINES), 46)]
    bad_at = {n: KINDS[i % len(KINDS)] for i, n in enumerate(numbers)}
    blank_at = set(rng.sample(sorted(set(range(2, LINES)) - bad_at.keys()), 5))
    good, blame = _write(tmp_path / "events.jsonl", LINES, bad_at, blank_at)

    # when the file is produced
    producer = EventProducer(config.kafka_bootstrap, config.events_topic)
    summary = produce_file(tmp_path / "events.jsonl", producer)

    # then every bad line is reported by number, naming its field, and nothing else is bad
    assert {bad.line_no for bad in summary.bad} == set(bad_at)
    for bad in summary.bad:
        assert bad.field == blame[bad.line_no], bad
        assert blame[bad.line_no] in bad.reason if blame[bad.line_no] else "invalid JSON" in bad.reason
    assert (summary.read, summary.produced, summary.blank) == (LINES, len(good), len(blank_at))
    # and the topic holds exactly the good lines' events, each once
    assert _messages_in_topic(config) == len(good)
    ids = _consume_ids(config, len(good))
    assert len(ids) == len(good)
    assert set(ids) == good


@pytest.mark.usefixtures("restore_logging")
def test_the_cli_lists_bad_lines_and_exits_1(tmp_path: Path, config: Config) -> None:
    # given a small file with three bad lines
    bad_at = {3: "bad_enum", 7: "invalid_json", 12: "missing_field"}
    good, _ = _write(tmp_path / "small.jsonl", 20, bad_at, blank_at={15})
    app = typer.Typer()
    produce.register(app)
    app.command("noop", hidden=True)(lambda: None)  # two commands, so `produce` is a subcommand

    # when produced through the command, with a rejects file
    result = CliRunner().invoke(
        app,
        ["produce", str(tmp_path / "small.jsonl"), "--rejects", str(tmp_path / "rejects.jsonl")],
        env=to_env(config),
    )

    # then it exits 1, names each bad line, and the good ones are in the topic
    assert result.exit_code == 1, result.output
    output = " ".join(result.output.split())
    for n in bad_at:
        assert f"line {n}:" in output
    assert "channel = 'carrier_pigeon'" in output
    rejects = (tmp_path / "rejects.jsonl").read_text().splitlines()
    assert [json.loads(r)["line"] for r in rejects] == sorted(bad_at)
    assert set(_consume_ids(config, len(good))) == good
