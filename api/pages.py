"""What the API's pages (the dashboard, the console) share: a package's Jinja2 templates,
autoescaped and strict, and its static files, served only by name from a list."""

from __future__ import annotations

from collections.abc import Collection
from functools import cache
from importlib import resources
from pathlib import Path

import jinja2
from fastapi import HTTPException
from starlette.responses import FileResponse


@cache
def templates(package: str) -> jinja2.Environment:
    """The templates of ``package``'s ``templates/`` folder."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader(package, "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def static_file(package: str, name: str, listed: Collection[str]) -> Path | None:
    """The file behind ``package``'s ``static/<name>``, or None for any name not ``listed``."""
    if name not in listed:
        return None
    return Path(str(resources.files(package).joinpath("static", name)))


def served(found: Path | None, name: str) -> FileResponse:
    """A static file, kept an hour by the browser; 404 when there is none by ``name``."""
    if found is None:
        raise HTTPException(404, f"no static file {name!r}")
    return FileResponse(found, headers={"Cache-Control": "public, max-age=3600"})
