"""One signal sweep over the projections: every detector evaluates the windows completed since
its progress marker and returns the signals they raise.

The detectors' only state is that marker (``signal_progress``) and the projections themselves:
what a window raises is a pure function of the counts, so a crash between raising and marking
raises the same signals again (same ids), and a replay, which rebuilds the marker empty,
evaluates the whole rebuilt history and raises the same set (docs/SIGNALS.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from civicloop.config import Config
from civicloop.projections.signals import counts, raised
from civicloop.projections.signals.recurring import RecurringSettings, recurrences
from civicloop.projections.signals.surge import Cell, SurgeDetector, SurgeSettings
from civicloop.projections.signals.windows import WINDOWS, Window, bucket_of, bucket_start
from civicloop.projections.store.base import Query, Store
from civicloop.projections.tables.schema import SIGNAL_PROGRESS
from civicloop.schemas.signals import Signal

LEVELS = ("district", "grid")
DAY = WINDOWS["day"]


@dataclass(frozen=True)
class SignalSettings:
    windows: tuple[str, ...] = ("hour", "day")
    utc_offset_s: int = 0
    lateness_s: int = 600
    surge: SurgeSettings = field(default_factory=SurgeSettings)
    recurring: RecurringSettings = field(default_factory=RecurringSettings)
    chunk_weeks: int = 4  # windows evaluated per step: bounds memory on a long history

    @classmethod
    def from_config(cls, config: Config) -> SignalSettings:
        return cls(
            windows=config.signal_windows,
            utc_offset_s=int(config.signal_utc_offset_h * 3600),
            lateness_s=int(config.signal_lateness_s),
            surge=SurgeSettings(
                alpha=config.surge_alpha, min_count=config.surge_min_count, weeks=config.surge_weeks
            ),
            recurring=RecurringSettings(min_cases=config.recurring_cases, days=config.recurring_days),
        )


@dataclass(frozen=True)
class Step:
    """Signals of some windows of one detector, and its marker once they are delivered."""

    detector: str
    until: datetime
    signals: list[Signal]


def sweep(query: Query, database: str, s: SignalSettings, complete_until: datetime) -> Iterator[Step]:
    """Every detector's steps from its marker up to the windows that ended ``s.lateness_s``
    before ``complete_until`` (the time up to which every report is projected)."""
    first = counts.first_report(query, database)
    if first is None:
        return
    cutoff = complete_until - timedelta(seconds=s.lateness_s)
    done = progress(query, database)
    for name in s.windows:
        yield from _surges(query, database, s, WINDOWS[name], first, cutoff, done.get(f"surge/{name}"))
    yield from _recurring(query, database, s, first, cutoff, done.get("recurring/day"))


def _range(win: Window, s: SignalSettings, first: datetime, cutoff: datetime, done: datetime | None) -> range:
    lo = bucket_of(done or first, win, s.utc_offset_s)
    return range(lo, bucket_of(cutoff, win, s.utc_offset_s), s.chunk_weeks * win.per_week)


def _surges(
    query: Query,
    db: str,
    s: SignalSettings,
    win: Window,
    first: datetime,
    cutoff: datetime,
    done: datetime | None,
) -> Iterator[Step]:
    source = _CountSource(query, db, win, s.utc_offset_s)
    detector = SurgeDetector(source, win.per_week, bucket_of(first, win, s.utc_offset_s), s.surge)
    steps = _range(win, s, first, cutoff, done)
    for lo in steps:
        hi = min(lo + steps.step, steps.stop)
        starts, ends = detector.episodes(lo, hi)
        signals = [raised.surge_detected(x, win, s.utc_offset_s, s.surge) for x in starts]
        signals += [raised.surge_ended(x, win, s.utc_offset_s) for x in ends]
        signals.sort(key=lambda sig: (sig["occurred_at"], sig.event_id))
        yield Step(f"surge/{win.name}", bucket_start(hi, win, s.utc_offset_s), signals)


def _recurring(
    query: Query, db: str, s: SignalSettings, first: datetime, cutoff: datetime, done: datetime | None
) -> Iterator[Step]:
    r, offset = s.recurring, s.utc_offset_s
    steps = _range(DAY, s, first, cutoff, done)
    for lo in steps:
        hi = min(lo + steps.step, steps.stop)
        rows = counts.counts(
            query,
            db,
            "grid",
            DAY.seconds,
            offset,
            bucket_start(lo - r.days, DAY, offset),
            bucket_start(hi, DAY, offset),
        )
        daily = {((c, p), b): n for c, p, b, n in rows}
        signals: list[Signal] = []
        found = recurrences(daily, lo, hi, r)
        # One look-up per day, not per place; recurrences come sorted by day, so the order holds.
        for bucket in sorted({item.day for item in found}):
            items = [item for item in found if item.day == bucket]
            day = bucket_start(bucket, DAY, offset)
            since = bucket_start(bucket - r.days + 1, DAY, offset)
            places = [item.place for item in items]
            cases = counts.cases_in(query, db, places, since, day + timedelta(days=1))
            signals.extend(raised.recurring(item, day, r, cases[item.place]) for item in items)
        yield Step("recurring/day", bucket_start(hi, DAY, offset), signals)


class _CountSource:
    """Counts of both levels for the surge detector, straight from the store."""

    def __init__(self, query: Query, database: str, win: Window, offset_s: int) -> None:
        self.query, self.database, self.win, self.offset = query, database, win, offset_s

    def __call__(self, lo: int, hi: int, cell: Cell | None) -> dict[tuple[Cell, int], int]:
        start, end = bucket_start(lo, self.win, self.offset), bucket_start(hi, self.win, self.offset)
        found: dict[tuple[Cell, int], int] = {}
        for level in (cell[0],) if cell else LEVELS:
            only = (cell[1], cell[2]) if cell else None
            rows = counts.counts(
                self.query, self.database, level, self.win.seconds, self.offset, start, end, only
            )
            found.update((((level, c, p), b), n) for c, p, b, n in rows)
        return found


def progress(query: Query, database: str) -> dict[str, datetime]:
    rows = query(f"SELECT detector, max(evaluated_until) FROM {database}.{SIGNAL_PROGRESS} GROUP BY detector")
    return {str(name): until for name, until in rows}


def mark(store: Store, database: str, step: Step) -> None:
    """Record ``step`` as done: only after its signals were confirmed by Kafka."""
    row = {"detector": step.detector, "evaluated_until": step.until, "updated_at": datetime.now(UTC)}
    store.insert(f"{database}.{SIGNAL_PROGRESS}", [row])
