"""The compiled per-event path is the pure-Python one (civicloop/compiled.py, docs/DESIGN.md §8).

Given any stream of messages — a case's events in any order with redeliveries, events of every
type with any field values the contract allows, conflicting duplicates, misrouted and hostile
messages (bytes that are no event, values the stores cannot hold, illegal transitions) — cut
into batches, when the mypyc build and the sources each fold it (two processes:
``CIVICLOOP_COMPILED=1`` and ``0``, tests/support/fold_runner.py), then every batch gives the
same counts, the same dead letters (reason, detail, raw bytes, …), the same rows of every
table and the same case states.

The compiled side insists on the build: without one made from the current sources (``make
compiled``, which ``make venv`` runs) this test fails, saying so; it never skips.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civicloop.projections.tables.schema import column_types
from civicloop.schemas.codec import encode
from civicloop.schemas.event import Event
from tests.support.case_events import at
from tests.support.chdb_support import Chdb
from tests.support.hostile import Hostile, Message, good
from tests.support.strategies import events as schema_events
from tests.unit.test_lifecycle_property import SEQUENCES

ROOT = Path(__file__).resolve().parents[2]
RECORD_MS = int(at(300).timestamp() * 1000)  # the Kafka record time: later events are "future"


class Runner:
    """A fold_runner process: one implementation of the fold."""

    def __init__(self, compiled: str, types: dict[str, dict[str, str]]) -> None:
        env = {**os.environ, "CIVICLOOP_COMPILED": compiled}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.fold_runner"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._send(types)
        self.compiled, self.why = self._receive()

    def fold(self, batches: list[list[tuple[Any, ...]]]) -> list[dict[str, Any]]:
        self._send(batches)
        outcome, value = self._receive()
        assert outcome == "ok", value
        return value  # type: ignore[no-any-return]

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(30)

    def _send(self, value: Any) -> None:
        assert self.process.stdin is not None
        pickle.dump(value, self.process.stdin)
        self.process.stdin.flush()

    def _receive(self) -> Any:
        assert self.process.stdout is not None and self.process.stderr is not None
        try:
            return pickle.load(self.process.stdout)
        except EOFError:
            self.process.wait(30)
            error = self.process.stderr.read().decode(errors="replace").strip().splitlines()
            died = error[-1] if error else f"exit code {self.process.returncode}"
            raise AssertionError(f"the fold runner died: {died}") from None


@pytest.fixture(scope="module")
def runners(chdb: Chdb) -> Iterator[tuple[Runner, Runner]]:
    db = chdb.new_database("equivalence")
    types: dict[str, dict[str, str]] = {}
    for (table, column), ch_type in column_types(chdb, db).items():
        types.setdefault(table, {})[column] = ch_type
    pure, compiled = Runner("0", types), Runner("1", types)
    yield pure, compiled
    pure.close()
    compiled.close()


def test_the_two_runners_run_the_two_implementations(runners):
    pure, compiled = runners
    assert (pure.compiled, compiled.compiled) == (False, True), (pure.why, compiled.why)


# --- streams ---------------------------------------------------------------------------------

HOSTILE = (
    "random_short",
    "tombstone",
    "random_bytes",
    "json_event",
    "unknown_fingerprint",
    "truncated",
    "trailing",
    "unknown_case",
    "absurd",
    "bad_case_id",
    "wrong_key",
)
ON_A_CASE = ("task_never_dispatched", "reported_again", "in_the_future", "after_void")


@st.composite
def streams(draw: st.DrawFn) -> list[list[tuple[Any, ...]]]:
    """Batches of (partition, offset, key, value, record time ms) messages."""
    lifecycle: list[Event] = draw(SEQUENCES)  # case C-1, out of order, with redeliveries
    others: list[Event] = draw(st.lists(schema_events(), max_size=4))  # any valid field values
    hostile = Hostile(draw(st.randoms(use_true_random=False)), at(0))
    messages = [good(e) for e in lifecycle + others]
    for kind in draw(st.lists(st.sampled_from(HOSTILE), max_size=4)):
        messages.insert(draw(st.integers(0, len(messages))), getattr(hostile, kind)())
    for kind in draw(st.lists(st.sampled_from(ON_A_CASE), max_size=2)):
        messages.insert(draw(st.integers(0, len(messages))), getattr(hostile, kind)("C-1"))
    if lifecycle:
        for event in draw(st.lists(st.sampled_from(lifecycle), max_size=2)):
            messages.insert(draw(st.integers(0, len(messages))), hostile.conflicting(event))
    if others:  # an event re-encoded under its own id and key: the same body, a redelivery
        messages.append(Message(others[0].case_id.encode(), encode(others[0])))
    wire = [
        (
            draw(st.sampled_from([0, 0, 0, 1])),
            offset,
            m.key,
            m.value,
            draw(st.sampled_from([RECORD_MS, None])),
        )
        for offset, m in enumerate(messages)
    ]
    cuts = sorted(draw(st.sets(st.integers(1, max(len(wire) - 1, 1)), max_size=3)))
    return [wire[a:b] for a, b in zip([0, *cuts], [*cuts, len(wire)], strict=True) if wire[a:b]]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_compiled_and_pure_fold_give_the_same_rows_and_dead_letters(runners, batches):
    pure, compiled = runners
    expected = pure.fold(batches)
    assert compiled.fold(batches) == expected
