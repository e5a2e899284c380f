"""The signal records the detectors raise, with their deterministic ids (docs/SIGNALS.md).

Every field follows from the window and its counts — ``recorded_at`` too, which is the end of
the window (when the signal became true), not the moment a sweep raised it: whoever raises a
signal again raises the same bytes, so its row is the same whichever write the table keeps."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from civicloop.projections.signals.recurring import Recurrence, RecurringSettings
from civicloop.projections.signals.surge import SurgeEnd, SurgeSettings, SurgeStart
from civicloop.projections.signals.windows import Window, bucket_start
from civicloop.schemas.signals import Signal, new_signal, signal_id


def surge_id(win: Window, cell: tuple[str, str, str], start: datetime) -> str:
    return signal_id("surge", win.name, *cell, start)


def surge_detected(item: SurgeStart, win: Window, offset_s: int, s: SurgeSettings) -> Signal:
    start, where_and_when = _in_window(item.cell, item.bucket, win, offset_s)
    a = item.assessment
    return new_signal(
        "SurgeDetected",
        event_id=surge_id(win, item.cell, start),
        **where_and_when,
        observed=a.observed,
        expected=a.expected,
        threshold=a.threshold,
        p_value=a.p_value,
        reference_windows=a.reference_windows,
        reference_reports=a.reference_reports,
        alpha=s.alpha,
        min_count=s.min_count,
    )


def surge_ended(item: SurgeEnd, win: Window, offset_s: int) -> Signal:
    start, where_and_when = _in_window(item.cell, item.bucket, win, offset_s)
    surge_start = bucket_start(item.start, win, offset_s)
    return new_signal(
        "SurgeEnded",
        event_id=signal_id("surge-ended", win.name, *item.cell, start),
        surge_id=surge_id(win, item.cell, surge_start),
        **where_and_when,
        surge_start=surge_start,
        alarm_windows=item.alarm_windows,
        observed=item.observed,
        expected=item.expected,
    )


def _in_window(
    cell: tuple[str, str, str], bucket: int, win: Window, offset_s: int
) -> tuple[datetime, dict[str, Any]]:
    """The start of window ``bucket`` and the fields that place a surge's signal: its cell and
    its window, true (occurred and recorded) at the window's end."""
    level, category, place = cell
    start = bucket_start(bucket, win, offset_s)
    end = start + timedelta(seconds=win.seconds)
    return start, {
        "occurred_at": end,
        "recorded_at": end,
        "level": level,
        "category": category,
        "place": place,
        "window": win.name,
        "window_start": start,
        "window_end": end,
    }


def recurring(
    item: Recurrence, day: datetime, s: RecurringSettings, cases: list[tuple[str, datetime]]
) -> Signal:
    category, place = item.place
    return new_signal(
        "RecurringProblemDetected",
        event_id=signal_id("recurring", category, place, day),
        occurred_at=day + timedelta(days=1),
        recorded_at=day + timedelta(days=1),
        category=category,
        place=place,
        day=day,
        cases=item.cases,
        days=s.days,
        min_cases=s.min_cases,
        first_reported_at=cases[0][1] if cases else day,
        case_ids=[c for c, _ in cases],
    )
