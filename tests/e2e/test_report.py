"""The monthly report over a simulated city on the real broker and worker, on chDB and the
ClickHouse 18.16 server: its numbers equal ``civicloop metrics`` / ``backlog`` JSON for that
month and the previous one; it opens in headless Chromium from a file with no request to any
server; its PDF is printed. The screenshot goes to build/artifacts/report/."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from typer.testing import CliRunner

from civicloop.cli import app as cli
from civicloop.config import Config
from civicloop.projections.backend import from_url
from civicloop.tools.simulate import simulate
from tests.conftest import REPO
from tests.support.browser import chromium, requested, save_screenshot
from tests.support.workers import Worker, produce, wait_projected

pytestmark = pytest.mark.integration

START = datetime(2026, 7, 13, tzinfo=UTC)  # five weeks over the turn of July and August
MONTH, PREVIOUS = ("2026-08-01", "2026-09-01"), ("2026-07-01", "2026-08-01")
ARTIFACTS = REPO / "build" / "artifacts" / "report"


class Figures(HTMLParser):
    """The figures a report carries in its tables' data attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.headline: dict[str, tuple[Any, Any]] = {}
        self.league: dict[str, dict[str, Any]] = {}
        self.problems: dict[str, int] = {}
        self._department: str | None = None
        self._category: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr" and "data-value" in a:
            self.headline[str(a["data-key"])] = (
                json.loads(str(a["data-value"])),
                json.loads(str(a["data-previous"])),
            )
        elif tag == "tr":
            self._department, self._category = a.get("data-department"), a.get("data-category")
        elif tag == "td" and "data-key" in a and self._department is not None:
            self.league.setdefault(self._department, {})[str(a["data-key"])] = json.loads(
                str(a["data-value"])
            )
        elif tag == "td" and "data-key" in a and self._category is not None:
            self.problems[self._category] = json.loads(str(a["data-value"]))


def cli_json(*args: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def metrics(period: tuple[str, str], by: str) -> list[dict[str, Any]]:
    return cli_json("metrics", "--from", period[0], "--to", period[1], "--by", by)


def open_cases(as_of: str) -> tuple[int, int]:
    rows = cli_json("backlog", "--as-of", as_of, "--by", "all")
    return sum(r["cases"] for r in rows), sum(r["cases"] for r in rows if r["overdue"])


def test_the_monthly_report_has_the_clis_numbers_and_opens_offline(
    config: Config, worker: Worker, tmp_path: Path
) -> None:
    city = list(simulate(days=35, cases_per_day=60, seed=47, start=START))
    wait_projected(config, produce(config, city), 240)
    out, pdf = tmp_path / "report.html", tmp_path / "report.pdf"

    made = CliRunner().invoke(cli, ["report", "--month", "2026-08", "--out", str(out), "--pdf", str(pdf)])
    assert made.exit_code == 0, made.output

    found = Figures()
    found.feed(out.read_text(encoding="utf-8"))
    (now,), (before,) = metrics(MONTH, "all"), metrics(PREVIOUS, "all")
    assert now["reported"] > 0 and before["reported"] > 0, "both months have cases"
    for key in (
        "response_rate",
        "resolution_rate",
        "satisfaction_rate",
        "closure_rate",
        "on_time_closure_rate",
    ):
        assert found.headline[key] == (now[key], before[key]), key
    for key in ("reported", "closed"):
        assert found.headline[key] == (now[key], before[key]), key
    opened, opened_before = open_cases(MONTH[1]), open_cases(MONTH[0])
    assert found.headline["backlog"] == (opened[0], opened_before[0])
    assert found.headline["backlog_overdue"] == (opened[1], opened_before[1])

    league = {row["group"]: row for row in metrics(MONTH, "department") if row["group"]}
    assert set(found.league) == set(league)
    for department, shown in found.league.items():
        assert shown == {key: league[department][key] for key in shown}, department
        assert len(shown) == 8
    by_category = {row["group"]: row["reported"] for row in metrics(MONTH, "category")}
    top = sorted((c for c in by_category if c and by_category[c]), key=lambda c: (-by_category[c], c))[:10]
    assert found.problems == {c: by_category[c] for c in top}

    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 50_000

    backend = from_url(config.clickhouse_url).kind
    with chromium() as driver:
        driver.get(out.as_uri())
        WebDriverWait(driver, 60).until(
            lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "ready"
        )
        assert len(driver.find_elements(By.CSS_SELECTOR, ".chart .main-svg")) >= 4, "the charts are drawn"
        save_screenshot(driver, ARTIFACTS / f"{backend}-report.png")
        urls = requested(driver)
    assert urls and all(url.startswith(("file:", "data:", "blob:")) for url in urls), urls
