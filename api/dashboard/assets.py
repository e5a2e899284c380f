"""The dashboard's pages and static files: templates rendered with Jinja2 (autoescaped), the
page scripts and styles of ``static/``, and plotly.js from the ``plotly`` package itself, so
nothing a page loads comes from anywhere but this server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import plotly

from civicloop.api import pages

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
    return pages.static_file("civicloop.api.dashboard", name, OWN)


def page(name: str, **values: Any) -> str:
    return pages.templates("civicloop.api.dashboard").get_template(name).render(**values)
