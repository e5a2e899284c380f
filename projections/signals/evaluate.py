"""One signal sweep over the projections: every detector evaluates the windows closed since its
progress marker and returns the signals they raise.

What a window raises is a function of the case topic alone (``arrival.py``): it counts the
reports its partitions' order says are on time, and is evaluated only once every partition
closed it. So a crash between raising and marking raises the same signals again (same ids, same
fields), a second worker sweeping the same windows raises the same ones, and a replay, which
rebuilds the marker empty, evaluates the rebuilt history and raises the same set. The marker
only saves work (docs/SIGNALS.md).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from civicloop.config import Config
from civicloop.projections.signals import arrival, raised
from civicloop.projections.signals.arrival import CaseLog, Report, Span
from civicloop.projections.signals.recurring import RecurringSettings, recurrences
from civicloop.projections.signals.surge import Cell, SurgeDetector, SurgeSettings
from civicloop.projections.signals.windows import WINDOWS, Window, bucket_of, bucket_start
from civicloop.projections.store.base import Query, Store
from civicloop.projections.tables.schema import SIGNAL_PROGRESS
from civicloop.schemas.signals import Signal

LEVELS = ("district", "grid")
DAY = WINDOWS["day"]
CASES_LISTED = 50  # case ids a RecurringProblemDetected names, earliest first


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


def sweep(
    query: Query, database: str, s: SignalSettings, log: CaseLog, marks: Mapping[str, datetime] | None = None
) -> Iterator[Step]:
    """Every detector's steps from its marker (``marks``, default: those stored; {} = from the
    start, as after a replay) up to the last window every partition of ``log`` has closed (its
    end + ``s.lateness_s`` reached by a projected report in each)."""
    known = arrival.extent(query, database, log)
    if known is None:
        return
    cutoff = known.watermark - timedelta(seconds=s.lateness_s)
    done = progress(query, database) if marks is None else marks
    for name in s.windows:
        yield from _surges(
            query, database, s, log, WINDOWS[name], known.first, cutoff, done.get(f"surge/{name}")
        )
    yield from _recurring(query, database, s, log, known.first, cutoff, done.get("recurring/day"))


def closed_until(query: Query, database: str, s: SignalSettings, log: CaseLog) -> dict[str, datetime]:
    """Per detector, the marker it reaches once it evaluated every closed window (what a
    settled sweep shows in ``signal_progress``); {} while a partition has no report."""
    known = arrival.extent(query, database, log)
    if known is None:
        return {}
    cutoff = known.watermark - timedelta(seconds=s.lateness_s)
    found = {}
    for name in (*(f"surge/{w}" for w in s.windows), "recurring/day"):
        win = WINDOWS[name.split("/")[1]]
        steps = _range(win, s, known.first, cutoff, None)
        if len(steps):
            found[name] = bucket_start(steps.stop, win, s.utc_offset_s)
    return found


def _range(win: Window, s: SignalSettings, first: datetime, cutoff: datetime, done: datetime | None) -> range:
    lo = bucket_of(done or first, win, s.utc_offset_s)
    return range(lo, bucket_of(cutoff, win, s.utc_offset_s), s.chunk_weeks * win.per_week)


def _surges(
    query: Query,
    db: str,
    s: SignalSettings,
    log: CaseLog,
    win: Window,
    first: datetime,
    cutoff: datetime,
    done: datetime | None,
) -> Iterator[Step]:
    source = _CountSource(query, db, log, win, s)
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
    query: Query,
    db: str,
    s: SignalSettings,
    log: CaseLog,
    first: datetime,
    cutoff: datetime,
    done: datetime | None,
) -> Iterator[Step]:
    r, offset = s.recurring, s.utc_offset_s
    steps = _range(DAY, s, first, cutoff, done)
    for lo in steps:
        hi = min(lo + steps.step, steps.stop)
        on_time = arrival.counted(query, db, log, Span(DAY, offset, s.lateness_s, lo - r.days, hi))
        daily: dict[tuple[tuple[str, str], int], int] = defaultdict(int)
        listed: dict[tuple[str, str], list[tuple[Report, int]]] = defaultdict(list)
        for report, b in on_time:  # earliest first
            if report.grid:
                daily[((report.category, report.grid), b)] += 1
                listed[(report.category, report.grid)].append((report, b))
        signals: list[Signal] = []
        for item in recurrences(daily, lo, hi, r):  # sorted by day, then place
            day = bucket_start(item.day, DAY, offset)
            since = item.day - r.days + 1
            cases = [(c.case_id, c.reported_at) for c, b in listed[item.place] if since <= b <= item.day]
            signals.append(raised.recurring(item, day, r, cases[:CASES_LISTED]))
        yield Step("recurring/day", bucket_start(hi, DAY, offset), signals)


class _CountSource:
    """Counts of both levels for the surge detector: the reports each window counts."""

    def __init__(self, query: Query, database: str, log: CaseLog, win: Window, s: SignalSettings) -> None:
        self.query, self.database, self.log, self.win, self.s = query, database, log, win, s

    def __call__(self, lo: int, hi: int, cell: Cell | None) -> dict[tuple[Cell, int], int]:
        span = Span(self.win, self.s.utc_offset_s, self.s.lateness_s, lo, hi)
        on_time = arrival.counted(self.query, self.database, self.log, span, cell)
        found: dict[tuple[Cell, int], int] = defaultdict(int)
        for report, b in on_time:
            for level, place in arrival.places(report, (cell[0],) if cell else LEVELS):
                found[((level, report.category, place), b)] += 1
        return dict(found)


def progress(query: Query, database: str) -> dict[str, datetime]:
    rows = query(f"SELECT detector, max(evaluated_until) FROM {database}.{SIGNAL_PROGRESS} GROUP BY detector")
    return {str(name): until for name, until in rows}


def mark(store: Store, database: str, step: Step) -> None:
    """Record ``step`` as done: only after its signals were confirmed by Kafka."""
    store.insert(f"{database}.{SIGNAL_PROGRESS}", [progress_row(step)])


def progress_row(step: Step) -> dict[str, Any]:
    """The ``signal_progress`` row saying ``step``'s detector has evaluated until its end."""
    return {"detector": step.detector, "evaluated_until": step.until, "updated_at": datetime.now(UTC)}
