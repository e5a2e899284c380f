"""The signal contract: its own namespace and topic reader, deterministic ids. (Apache Avro's
Java reader reads them too: tests/component/test_signal_schemas_java.py.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from civicloop.schemas.codec import DecodeError, decode, encode
from civicloop.schemas.events import new_event
from civicloop.schemas.signals import (
    SIGNAL_TYPES,
    Signal,
    decode_signal,
    encode_signal,
    new_signal,
    signal_id,
)

START = datetime(2024, 5, 1, tzinfo=UTC)
END = START + timedelta(days=1)


def _surge(**changes: Any) -> Signal:
    fields: dict[str, Any] = dict(
        event_id=signal_id("surge", "day", "district", "water.leak", "D01", START),
        occurred_at=END,
        level="district",
        category="water.leak",
        place="D01",
        window="day",
        window_start=START,
        window_end=END,
        observed=25,
        expected=4.5,
        threshold=12,
        p_value=1e-9,
        reference_windows=4,
        reference_reports=18,
        alpha=0.001,
        min_count=5,
    )
    return new_signal("SurgeDetected", **{**fields, **changes})


def _recurring() -> Signal:
    return new_signal(
        "RecurringProblemDetected",
        event_id=signal_id("recurring", "road.pothole", "D01-0101", START),
        occurred_at=END,
        category="road.pothole",
        place="D01-0101",
        day=START,
        cases=5,
        days=30,
        min_cases=5,
        first_reported_at=START - timedelta(days=20),
        case_ids=["c-1", "c-2"],
    )


def _ended() -> Signal:
    return new_signal(
        "SurgeEnded",
        event_id=signal_id("surge-ended", "day", "district", "water.leak", "D01", END),
        occurred_at=END + timedelta(days=1),
        surge_id=_surge().event_id,
        level="district",
        category="water.leak",
        place="D01",
        window="day",
        window_start=END,
        window_end=END + timedelta(days=1),
        surge_start=START,
        alarm_windows=1,
        observed=4,
        expected=4.0,
    )


ALL: dict[str, Any] = {"SurgeDetected": _surge, "SurgeEnded": _ended, "RecurringProblemDetected": _recurring}


@pytest.mark.parametrize("signal_type", SIGNAL_TYPES)
def test_every_signal_round_trips(signal_type: str) -> None:
    signal = ALL[signal_type]()
    assert decode_signal(encode_signal(signal)) == signal


def test_the_case_topic_refuses_signals_and_the_signals_topic_refuses_case_events() -> None:
    with pytest.raises(DecodeError) as caught:
        decode(encode_signal(_surge()))
    assert caught.value.reason == "wrong_contract" and "signals topic" in str(caught.value)
    event = new_event(
        "CaseClosed", case_id="C-1", actor=("system", "s"), source="t", occurred_at=START, reason="resolved"
    )
    with pytest.raises(DecodeError) as caught:
        decode_signal(encode(event))
    assert caught.value.reason == "wrong_contract" and "case-events topic" in str(caught.value)


def test_signal_ids_are_deterministic_and_tell_cells_and_windows_apart() -> None:
    one = signal_id("surge", "day", "district", "water.leak", "D01", START)
    assert one == signal_id("surge", "day", "district", "water.leak", "D01", START)
    assert one != signal_id("surge", "day", "district", "water.leak", "D02", START)
    assert one != signal_id("surge", "day", "district", "water.leak", "D01", END)
    assert one != signal_id("surge", "hour", "district", "water.leak", "D01", START)


def test_a_bad_signal_names_the_field() -> None:
    with pytest.raises(ValueError, match="SurgeDetected.window"):
        _surge(window="week")
