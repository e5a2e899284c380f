"""``civicloop api`` (the HTTP server) and ``civicloop apikey create | list | revoke``."""

from __future__ import annotations

from contextlib import closing
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from civicloop.cli.common import configured, console
from civicloop.tools.output import plain

if TYPE_CHECKING:
    from civicloop.api.keys import ApiKeyStore


def register(app: typer.Typer) -> None:
    app.command("api")(api)
    keys = typer.Typer(help="API keys with roles (stored hashed; shown once).", no_args_is_help=True)
    keys.command("create")(create)
    keys.command("list")(list_keys)
    keys.command("revoke")(revoke)
    app.add_typer(keys, name="apikey")


Workers = Annotated[
    int | None,
    typer.Option(
        "--workers",
        min=1,
        help="Processes serving the one port (default: CIVICLOOP_API_WORKERS, one per core).",
    ),
]


def api(workers: Workers = None) -> None:
    """Serve Open311 GeoReport v2, the handling API and OpenAPI docs (/docs) in the foreground."""
    from dataclasses import replace

    from civicloop.api.server import run

    config = configured()
    run(replace(config, api_workers=workers) if workers else config)


Role = Annotated[
    str,
    typer.Option(
        "--role", help="intake, department, dispatcher, supervisor or analyst (or department:NAME)."
    ),
]
Department = Annotated[
    str | None, typer.Option("--department", help="The department a department key acts for.")
]
Label = Annotated[str, typer.Option("--label", help="Who or what holds the key (shown by list).")]


def _key_store() -> closing[ApiKeyStore]:
    """The configured deployment's API keys, closed when the ``with`` ends."""
    from civicloop.api.keys import ApiKeyStore

    return closing(ApiKeyStore(configured().api_keys))


def create(role: Role, department: Department = None, label: Label = "") -> None:
    """Create a key; its token is printed once, alone on the last line (scripts read that line)."""
    with _key_store() as store:
        key, token = store.create(role, department, label)
    console.print(f"created key {key.key_id} with role {key.role_name}; the token is shown only now:")
    print(token)


def list_keys() -> None:
    """Every key: id, role, label, created, revoked (never the token, which is not stored)."""
    with _key_store() as store:
        keys = store.list()
    rows = [(k.key_id, k.role_name, k.label, k.created_at, k.revoked_at or "") for k in keys]
    columns = ("key", "role", "label", "created", "revoked")
    widest = [max([len(name), *(len(row[i]) for row in rows)]) for i, name in enumerate(columns)]
    table = Table(title="API keys")
    for name, width in zip(columns, widest, strict=True):
        # ids, roles and times are copied into commands and grepped: always whole, on one
        # line; a narrow terminal wraps the label instead, or the table runs past its edge
        table.add_column(
            name, no_wrap=name != "label", min_width=min(width, 12) if name == "label" else width
        )
    for row in rows:
        table.add_row(*(plain(cell) for cell in row))  # a label is whatever its issuer typed
    needed = sum(widest) - widest[2] + min(widest[2], 12) + 3 * len(columns) + 1
    Console(width=max(console.width, needed)).print(table)  # at least as wide as they need


def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (from `civicloop apikey list`).")],
) -> None:
    """Revoke a key at once (every API process checks each request against the store)."""
    with _key_store() as store:
        revoked = store.revoke(key_id)
    if not revoked:
        raise ValueError(f"no live key {key_id!r}: see `civicloop apikey list`")
    console.print(f"revoked {key_id}")
