"""``civicloop notifier`` (the process) and ``civicloop webhook add | list | remove | failures |
retry`` (its subscriptions and its failures list)."""

from __future__ import annotations

from contextlib import closing
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

import typer
from rich.markup import escape
from rich.table import Table

from civicloop.cli.common import configured, console
from civicloop.tools.output import plain

if TYPE_CHECKING:
    from civicloop.streams.notify.store import NotifyStore


def register(app: typer.Typer) -> None:
    app.command("notifier")(notifier)
    hooks = typer.Typer(
        help="Webhook subscriptions: signed JSON for each matching case event (docs/NOTIFY.md).",
        no_args_is_help=True,
    )
    hooks.command("add")(add)
    hooks.command("list")(list_subscriptions)
    hooks.command("remove")(remove)
    hooks.command("failures")(failures)
    hooks.command("retry")(retry)
    app.add_typer(hooks, name="webhook")


def notifier() -> None:
    """Run the notifier in the foreground: webhooks and reporter messages (Ctrl-C stops it)."""
    from civicloop.streams.notify.notifier import run

    run(configured())


def _notify_store() -> closing[NotifyStore]:
    """The configured deployment's subscriptions and delivery queues, closed when the ``with`` ends."""
    from civicloop.streams.notify.store import NotifyStore

    return closing(NotifyStore(configured().notify_db))


Url = Annotated[str, typer.Argument(help="Where to POST the events (http or https).")]
Events = Annotated[
    str,
    typer.Option(
        "--events", help="Comma-separated event types (CaseReported,CaseClosed,…) or * for every one."
    ),
]
Department = Annotated[str | None, typer.Option("--department", help="Only cases this department leads.")]


def add(url: Url, events: Events = "*", department: Department = None) -> None:
    """Subscribe URL; prints the signing secret, which is shown this once."""
    from civicloop.schemas.events import EVENT_TYPES

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) URL")
    names = tuple(dict.fromkeys(e.strip() for e in events.split(",") if e.strip()))
    unknown = [e for e in names if e != "*" and e not in EVENT_TYPES]
    if not names or unknown:
        raise ValueError(
            f"--events {events!r}: {', '.join(unknown) or 'none given'} is not an event type; "
            f"use * or some of {', '.join(sorted(EVENT_TYPES))}"
        )
    with _notify_store() as store:
        sub = store.subscribe(url, ("*",) if "*" in names else names, department)
    console.print(f"subscription {sub.sub_id}: {escape(url)}", highlight=False, soft_wrap=True)
    console.print(f"secret (shown once): {sub.secret}", highlight=False, soft_wrap=True)


def list_subscriptions() -> None:
    """Every live subscription with its queue: pending, failed, delivered."""
    with _notify_store() as store:
        subscriptions, states = store.subscriptions(), {s.target: s for s in store.targets()}
    table = Table(title="webhook subscriptions")
    for column in ("id", "url", "events", "department", "pending", "failed", "delivered"):
        table.add_column(column, overflow="fold")
    for sub in subscriptions:
        state = states.get(sub.target)
        counts = (state.pending, state.failed, state.delivered) if state else (0, 0, 0)
        table.add_row(
            sub.sub_id, plain(sub.url), ",".join(sub.events), sub.department or "", *(str(n) for n in counts)
        )
    console.print(table)


def remove(sub_id: Annotated[str, typer.Argument(help="The subscription's id.")]) -> None:
    """Stop delivering to a subscription (what it was still owed is dropped)."""
    with _notify_store() as store:
        removed = store.unsubscribe(sub_id)
    if not removed:
        raise ValueError(f"no live subscription {sub_id!r} (see `civicloop webhook list`)")
    console.print(f"removed {sub_id}")


def failures() -> None:
    """Deliveries that kept failing (webhooks and reporter messages), oldest first."""
    with _notify_store() as store:
        rows = store.failures()
    table = Table(title=f"failed deliveries ({len(rows)})")
    for column in ("target", "case", "event id", "attempts", "last error"):
        table.add_column(column, overflow="fold")
    for _, target, case_id, event_id, attempts, error in rows:
        table.add_row(plain(target), case_id, event_id, str(attempts), plain(error or ""))
    console.print(table)


def retry(
    target: Annotated[
        str | None, typer.Argument(help="A subscription id or reporter adapter (email); all when omitted.")
    ] = None,
) -> None:
    """Put failed deliveries back in their queues, to be sent again in their original order."""
    from civicloop.streams.notify.store import WEBHOOK

    with _notify_store() as store:
        name = WEBHOOK + target if target and target.startswith("wh") else target
        count = store.retry(name)
    console.print(f"{count} deliver{'y' if count == 1 else 'ies'} queued again")
