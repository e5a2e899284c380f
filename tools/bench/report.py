"""What every benchmark prints: the machine, each measured rate, and ratios to its ceiling."""

from __future__ import annotations

import gc
import json
import os
import platform
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import confluent_kafka
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from civicloop import CHOSEN


@dataclass(frozen=True)
class Figure:
    """One timed loop: ``events`` done in ``seconds``."""

    label: str
    events: int
    seconds: float

    @property
    def per_s(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self, unit: str = "events") -> dict[str, Any]:
        return {
            "label": self.label,
            unit: self.events,
            "seconds": round(self.seconds, 4),
            f"{unit}_per_s": round(self.per_s),
        }


Loop = tuple[str, Callable[[], object]]  # (label, the work to time)


def timed(events: int, loops: dict[str, Loop], rounds: int = 1) -> dict[str, Figure]:
    """Each loop's fastest of ``rounds``; rounds interleave the loops, so a busy moment on a
    shared machine hits every figure alike instead of skewing one ratio."""
    best = dict.fromkeys(loops, float("inf"))
    for _ in range(rounds):
        for key, (_, loop) in loops.items():
            best[key] = min(best[key], _once(loop))
    return {key: Figure(label, events, best[key]) for key, (label, _) in loops.items()}


def _once(loop: Callable[[], object]) -> float:
    # The benchmark's own inputs (hundreds of thousands of events) are frozen out of the
    # collector: otherwise each full collection walks them all, which a streaming worker holding
    # one batch never pays. Objects the loop itself creates are collected as usual.
    gc.collect()
    gc.freeze()
    try:
        started = time.perf_counter()
        loop()
        return time.perf_counter() - started
    finally:
        gc.unfreeze()


@dataclass(frozen=True)
class Ratio:
    """``figures[top].per_s / figures[bottom].per_s``: how close civicloop gets to a ceiling."""

    key: str
    label: str
    top: str
    bottom: str


@dataclass
class Result:
    command: str
    figures: dict[str, Figure]
    ratios: list[Ratio]
    notes: dict[str, Any] = field(default_factory=dict)  # context: sizes, partitions, ...
    unit: str = "events"  # what a figure counts (``rows`` for queries)
    in_ms: bool = False  # print times in milliseconds (queries) rather than seconds
    date: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def ratio(self, ratio: Ratio) -> float:
        return self.figures[ratio.top].per_s / self.figures[ratio.bottom].per_s

    def as_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "date": self.date,
            "machine": machine(),
            "figures": {key: fig.as_dict(self.unit) for key, fig in self.figures.items()},
            "ratios": {r.key: round(self.ratio(r), 3) for r in self.ratios},
            "notes": self.notes,
        }


def machine() -> dict[str, Any]:
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "fastavro": version("fastavro") + (" (compiled)" if _fastavro_compiled() else " (pure Python)"),
        # the per-event path of this process (its workers choose alike): the two give different
        # figures (docs/BENCHMARKS.md, "the compiled path"), so each figure says which it is
        "civicloop": CHOSEN.describe(),
        "confluent-kafka": version("confluent-kafka"),
        "librdkafka": confluent_kafka.libversion()[0],
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _fastavro_compiled() -> bool:
    # The pure-Python fallback is several times slower; a ceiling measured on it means little.
    from fastavro import _write

    return not str(_write.__file__).endswith(".py")


def show(result: Result, as_json: bool, console: Console | None = None) -> None:
    if as_json:  # plain print: rich would wrap long lines at the terminal's width
        print(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
        return
    out = console or Console()
    out.print(_machine_table())
    table = Table(title=f"{result.command} ({result.date})")
    unit, clock = result.unit, "ms" if result.in_ms else "seconds"
    for column, justify in (("measure", "left"), (unit, "right"), (clock, "right"), (f"{unit}/s", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for fig in result.figures.values():
        took = f"{fig.seconds * 1000:,.1f}" if result.in_ms else f"{fig.seconds:.3f}"
        table.add_row(fig.label, f"{fig.events:,}", took, f"{fig.per_s:,.0f}")
    out.print(table)
    ratios = Table(title="ratios (1.00 = as fast as the ceiling)")
    ratios.add_column("ratio")
    ratios.add_column("value", justify="right")
    for ratio in result.ratios:
        ratios.add_row(ratio.label, f"{result.ratio(ratio):.2f}")
    out.print(ratios)
    for name, value in result.notes.items():
        out.print(f"{name.replace('_', ' ')}: {value}")


def progress() -> Progress:
    """A progress display on stderr, so ``--json`` output on stdout stays one JSON object."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )


def peak_rss_mb() -> float:
    """This process's peak resident set so far: the high-water mark of its own address space
    (``VmHWM``). Not ``ru_maxrss``: Linux carries the starting process's peak into a process
    started by exec (multiprocessing's ``spawn``), so a spawned replay reported the benchmark
    parent's peak — the 10 M simulated events it held — as its own."""
    return _status_mb("self", "VmHWM")


class RssWatch:
    """Samples this process's resident set every ``every`` seconds in a thread of its own and
    keeps the largest sample with what ``doing()`` said at that moment (e.g. the replay's phase
    and events done), so a peak can be placed, not only sized."""

    def __init__(self, doing: Callable[[], str], every: float = 0.2) -> None:
        self.doing = doing
        self.every = every
        self.peak_mb = 0.0
        self.peak_during = ""
        self.children_peak_mb = 0.0  # the largest VmHWM of a child process (the fold processes)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-watch", daemon=True)

    def __enter__(self) -> RssWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            now = rss_mb()
            if now > self.peak_mb:
                self.peak_mb, self.peak_during = now, self.doing()
            for child in children():
                self.children_peak_mb = max(self.children_peak_mb, _status_mb(str(child), "VmHWM"))


def rss_mb() -> float:
    """This process's resident set now (VmRSS, Linux)."""
    return _status_mb("self", "VmRSS")


def children() -> list[int]:
    """The processes this one started that are still running (Linux)."""
    found: list[int] = []
    for task in Path("/proc/self/task").iterdir():
        try:
            found.extend(int(pid) for pid in (task / "children").read_text().split())
        except OSError:
            continue  # the thread ended meanwhile
    return found


def _status_mb(pid: str, field: str) -> float:
    """A ``kB`` field of ``/proc/<pid>/status`` in MB; 0 when the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def _machine_table() -> Table:
    table = Table(title="machine", show_header=False)
    for key, value in machine().items():
        table.add_row(key, str(value))
    return table
