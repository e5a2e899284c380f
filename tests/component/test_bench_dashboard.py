"""``civicloop bench dashboard`` at a tiny size on chDB: every request a dashboard load makes
is timed through the real server, a page load's total is the sum of its requests, and the
command prints the result as one JSON object. No timing thresholds.

One run of the command checks both (each benchmark run builds its projections and serves them:
the command and the figures were two runs, the command's at 1,000 cases, until issue 20)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from civicloop.cli import app
from civicloop.tools.bench import dashboard
from civicloop.tools.bench.dashboard import FIGURES
from civicloop.tools.bench.report import Result


def test_the_command_times_every_request_of_a_page_load_and_prints_one_json_object(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    results: list[Result] = []
    run = dashboard.run

    def recorded(*args: object) -> Result:
        results.append(run(*args))  # type: ignore[arg-type]
        return results[-1]

    monkeypatch.setattr(dashboard, "run", recorded)
    done = CliRunner().invoke(app, ["bench", "dashboard", "--cases", "2000", "--rounds", "1", "--json"])
    assert done.exit_code == 0, done.output
    found = json.loads(done.stdout)
    assert found["command"] == "civicloop bench dashboard" and found["notes"]["cases"] == 2000

    [result] = results
    for name in FIGURES:
        assert result.figures[f"api_{name}"].seconds > 0
        assert result.figures[f"api_{name}_filtered"].seconds > 0
    page = ["page", "plotly_js", "api_choices", *(f"api_{name}" for name in FIGURES)]
    total = sum(result.figures[key].seconds for key in page) * 1000
    assert result.notes["page_load_total_ms"] == round(total, 1)
    ratios = {r.key for r in result.ratios}
    assert ratios == {"api_headline_vs_store", "api_league_vs_store", "api_trend_vs_store"}
