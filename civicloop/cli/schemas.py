"""``civicloop schemas check``: the schema-evolution guard."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from civicloop.cli.common import console, err


def register(app: typer.Typer) -> None:
    schemas_app = typer.Typer(help="The Avro event contract.", no_args_is_help=True)
    schemas_app.command("check")(schemas_check)
    app.add_typer(schemas_app, name="schemas")


def schemas_check(path: Annotated[Path | None, typer.Argument(help="schemas/avro tree")] = None) -> None:
    """Fail when a schema change is not backward-transitive compatible."""
    from civicloop.schemas.compat import AVRO_DIR, check_tree

    problems = check_tree(path or AVRO_DIR)
    for problem in problems:
        err.print(f"[red]incompatible:[/] {escape(str(problem))}")
    if problems:
        raise typer.Exit(1)
    console.print("schemas: every version reads every older one")
