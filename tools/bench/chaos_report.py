"""What ``civicloop bench chaos`` was asked to do, what it saw, and how it prints that."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from civicloop.tools.bench.report import machine

AFTER_PRODUCTION = "after the last event was produced"


@dataclass(frozen=True)
class Plan:
    workers: int = 3
    partitions: int = 6
    events: int = 60_000
    rate: int = 600
    kills: int = 6
    broker_restarts: int = 2
    seed: int = 7
    static: bool = False  # static group membership (streams/settings.py); default: dynamic
    gap_s: tuple[float, float] = (2.0, 5.0)  # pause before each action
    keep: bool = False  # keep both databases on a configured server (their names are reported)


@dataclass
class Action:
    kind: str  # kill | broker-graceful | broker-kill
    at_s: float  # since the start of production
    target: str
    recovery_s: float | None = None
    partitions: list[int] = field(default_factory=list)
    # the longest pause, during that recovery, of a partition the dead worker did not hold:
    # what the failure cost the rest of the group (a group-wide rebalance pauses them all)
    others_paused_s: float | None = None
    note: str = ""


@dataclass
class ChaosReport:
    plan: Plan
    events: int = 0
    produce_s: float = 0.0
    drain_s: float = 0.0
    clean_s: float = 0.0
    actions: list[Action] = field(default_factory=list)
    restarts: dict[str, int] = field(default_factory=dict)
    differences: list[str] = field(default_factory=list)
    signals: dict[str, int] = field(default_factory=dict)  # signal rows per run (chaos, clean)
    databases: list[str] = field(default_factory=list)  # kept: where to check them
    date: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def as_dict(self) -> dict[str, Any]:
        recoveries = [a.recovery_s for a in self.actions if a.kind == "kill" and a.recovery_s is not None]
        return {
            "command": "civicloop bench chaos",
            "date": self.date,
            "machine": machine(),
            "plan": {**asdict(self.plan), "membership": "static" if self.plan.static else "dynamic"},
            "events": self.events,
            "produce_s": round(self.produce_s, 1),
            "drain_s": round(self.drain_s, 1),
            "clean_run_s": round(self.clean_s, 1),
            "kills": sum(a.kind == "kill" for a in self.actions),
            "broker_restarts": sum(a.kind != "kill" for a in self.actions),
            "recovery_after_kill_s": {
                "each": [a.recovery_s for a in self.actions if a.kind == "kill"],
                "max": max(recoveries, default=None),
            },
            "others_paused_after_kill_s": [a.others_paused_s for a in self.actions if a.kind == "kill"],
            "actions": [asdict(a) for a in self.actions],
            "supervisor_restarts": self.restarts,
            "actions_while_producing": sum(not a.note.startswith(AFTER_PRODUCTION) for a in self.actions),
            "signals": self.signals,
            "databases_kept": self.databases,
            "differences": self.differences,
        }


def show(report: ChaosReport, as_json: bool) -> None:
    """Print the report: tables for people, or one JSON object (``--json``)."""
    data = report.as_dict()
    if as_json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return
    out = Console()
    plan = data["plan"]
    out.print(
        f"[bold]civicloop bench chaos[/] ({data['date']}): {plan['workers']} workers "
        f"({plan['membership']} membership), {plan['partitions']} partitions, seed {plan['seed']}"
    )
    table = Table(title="chaos actions")
    for column in ("at s", "action", "target", "partitions", "recovery s", "others paused s", "note"):
        table.add_column(column, justify="right" if column.endswith("s") else "left")
    for action in report.actions:
        recovery = "not recovered" if action.recovery_s is None and not action.note.startswith("held") else ""
        table.add_row(
            f"{action.at_s:.1f}",
            action.kind,
            action.target,
            ",".join(map(str, action.partitions)),
            f"{action.recovery_s:.2f}" if action.recovery_s is not None else recovery or "–",
            "–" if action.others_paused_s is None else f"{action.others_paused_s:.2f}",
            action.note,
        )
    out.print(table)
    kills = data["recovery_after_kill_s"]
    out.print(
        f"events {data['events']:,} produced in {data['produce_s']} s; drain (last produced → all "
        f"projected) {data['drain_s']} s; clean single-worker run {data['clean_run_s']} s"
    )
    out.print(
        f"kills {data['kills']}, broker restarts {data['broker_restarts']}, worst recovery after a kill "
        f"{kills['max']} s; supervisor restarts {data['supervisor_restarts']}"
    )
    out.print(
        f"actions while events were produced {data['actions_while_producing']} of {len(report.actions)}; "
        f"signals {report.signals.get('chaos', 0)} (clean run {report.signals.get('clean', 0)})"
    )
    if report.databases:
        out.print(f"databases kept: {', '.join(report.databases)}")
    if report.differences:
        out.print(f"[red]{len(report.differences)} difference(s) from the clean run:[/]")
        for line in report.differences:
            out.print(f"  {line}")
    else:
        out.print(
            "[green]0 differences[/]: every table's row checksums (signals included) and every metric "
            "equal the clean run"
        )
