"""The report as one HTML file: plotly.js and every chart's data inline, so it opens offline
and can be mailed as it is; and a PDF of it, printed by headless Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from civicloop.api.dashboard.assets import plotly_js

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")


@cache
def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("civicloop.tools.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["rate"] = lambda v: "—" if v is None else f"{v * 100:.1f} %"
    env.filters["count"] = lambda v: "—" if v is None else f"{v:,}"
    env.filters["change"] = _change
    env.filters["seconds"] = _duration
    env.filters["raw"] = lambda v: "null" if v is None else repr(v)
    return env


def html(contents: dict[str, Any]) -> str:
    return (
        _templates()
        .get_template("report.html")
        .render(
            **contents,
            plotly=jinja2.filters.Markup(_script_safe(plotly_js().read_text(encoding="utf-8"))),
            charts_json=jinja2.filters.Markup(_script_safe(json.dumps(contents["charts"], default=_plain))),
        )
    )


def pdf(html_file: Path, out: Path) -> None:
    """``html_file`` printed to ``out`` by headless Chromium (Debian's ``chromium``)."""
    browser = next((found for name in CHROMIUM if (found := shutil.which(name))), None)
    if browser is None:
        raise RuntimeError(
            "a PDF needs Chromium: apt-get install chromium (or `make chromium`), or leave out --pdf"
        )
    with tempfile.TemporaryDirectory(prefix="civicloop-report-") as profile:
        flags = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-sync",
            "--disable-background-networking",
            "--disable-component-update",
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            "--virtual-time-budget=20000",
            f"--print-to-pdf={out.resolve()}",
        ]
        done = subprocess.run(
            [browser, *flags, html_file.resolve().as_uri()],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    if done.returncode != 0 or not out.exists():
        raise RuntimeError(f"Chromium could not print {html_file} to PDF: {done.stderr.strip()[-500:]}")


def _script_safe(text: str) -> str:
    """Text that cannot end the <script> element it is inlined in."""
    return text.replace("</", "<\\/")


def _change(value: float | None, kind: str) -> str:
    if value is None:
        return "—"
    sign = "+" if value > 0 else "−" if value < 0 else "±"
    return f"{sign}{abs(value) * 100:.1f} pp" if kind == "rate" else f"{sign}{abs(value) * 100:.1f} %"


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    hours = seconds / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} d"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)
