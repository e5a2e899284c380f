"""Signals as the detectors raise them, for tests that need one in a table or a listing."""

from __future__ import annotations

from datetime import datetime, timedelta

from civicloop.schemas.signals import Signal, new_signal, signal_id


def day_surge(start: datetime, place: str = "G1") -> Signal:
    """A day's surge of road reports in grid cell ``place`` from ``start``: 21 against 4 expected."""
    return new_signal(
        "SurgeDetected",
        event_id=signal_id("surge", "day", "grid", "roads", place, start),
        occurred_at=start + timedelta(days=1),
        level="grid",
        category="roads",
        place=place,
        window="day",
        window_start=start,
        window_end=start + timedelta(days=1),
        observed=21,
        expected=4.0,
        threshold=12,
        p_value=1e-8,
        reference_windows=4,
        reference_reports=16,
        alpha=0.001,
        min_count=5,
    )
