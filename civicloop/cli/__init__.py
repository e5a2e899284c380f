"""``civicloop``: the single entry point for operators, analysts and the Makefile.

Every command is wired here: each module of this package adds its commands with
``register(app)``; the work itself lives in ``tools/``, ``streams/`` and ``projections/``.
"""

from __future__ import annotations

import sys

import typer

from civicloop.cli import (
    analytics,
    api,
    bench,
    ingest,
    notify,
    privacy,
    produce,
    replay,
    report,
    schemas,
    signals,
    simulate,
    stack,
)
from civicloop.cli.common import err

app = typer.Typer(
    help="civicloop: citizen-report cases as events on Kafka, projected into ClickHouse.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
for module in (
    stack,
    api,
    analytics,
    signals,
    report,
    ingest,
    simulate,
    produce,
    replay,
    privacy,
    notify,
    schemas,
    bench,
):
    module.register(app)


def main() -> None:
    """Entry point: errors a user can fix become one red line and exit status 2, not a traceback."""
    try:
        app()
    except Exception as exc:
        message = _for_the_user(exc)
        if message is None:
            raise
        # soft_wrap: one line however long, so scripts and people see the whole message
        err.print(f"[red]error:[/] {message}", highlight=False, soft_wrap=True)
        sys.exit(2)


def _for_the_user(exc: Exception) -> str | None:
    """The message for an error the user can act on (configuration, missing tools or services,
    a stack that would not start), or None for a bug, which keeps its traceback."""
    from civicloop.privacy import KeyStoreNotPrivate
    from civicloop.projections.store.base import StoreURLError
    from civicloop.streams.kafka import NoKafka
    from civicloop.tools.local.maven import ToolMissing

    text = str(exc)
    if "UNKNOWN_DATABASE" in text or "Code: 81." in text:
        return (
            "nothing has been projected here yet (the database does not exist): start a "
            "worker (`civicloop up`) and produce events first.\n" + text.splitlines()[0]
        )
    services = (NoKafka, ToolMissing, StoreURLError, KeyStoreNotPrivate, TimeoutError)
    if isinstance(exc, services) or isinstance(exc, RuntimeError | ValueError):
        return text
    return None


if __name__ == "__main__":
    main()
