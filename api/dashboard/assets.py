"""The dashboard's pages and static files: templates rendered with Jinja2 (autoescaped), the
page scripts and styles of ``static/``, and plotly.js from the ``plotly`` package itself, so
nothing a page loads comes from anywhere but this server."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import plotly

#: the scripts and styles a page may load, by the name it uses
OWN = ("dashboard.js", "case.js", "common.js", "dashboard.css")
PLOTLY = "plotly.min.js"


def plotly_js() -> Path:
    """plotly.js as the ``plotly`` package ships it (the version its figures are made for)."""
    return Path(plotly.__file__).parent / "package_data" / PLOTLY


def static_file(name: str) -> Path | None:
    """The file behind ``static/<name>``, or None for any name not on the list."""
    if name == PLOTLY:
        return plotly_js()
    if name in OWN:
        return Path(str(resources.files("civicloop.api.dashboard").joinpath("static", name)))
    return None


@cache
def templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("civicloop.api.dashboard", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def page(name: str, **values: Any) -> str:
    return templates().get_template(name).render(**values)
