"""``civicloop bench dashboard`` at a tiny size on chDB: every request a dashboard load makes
is timed through the real server, and a page load's total is the sum of its requests. No
timing thresholds."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from civicloop.cli import app
from civicloop.tools.bench.dashboard import FIGURES, run


def test_every_request_of_a_page_load_is_timed() -> None:
    result = run(cases=2_000, rounds=1)
    for name in FIGURES:
        assert result.figures[f"api_{name}"].seconds > 0
        assert result.figures[f"api_{name}_filtered"].seconds > 0
    page = ["page", "plotly_js", "api_choices", *(f"api_{name}" for name in FIGURES)]
    total = sum(result.figures[key].seconds for key in page) * 1000
    assert result.notes["page_load_total_ms"] == round(total, 1)
    ratios = {r.key for r in result.ratios}
    assert ratios == {"api_headline_vs_store", "api_league_vs_store", "api_trend_vs_store"}


def test_the_command_prints_one_json_object() -> None:
    done = CliRunner().invoke(app, ["bench", "dashboard", "--cases", "1000", "--rounds", "1", "--json"])
    assert done.exit_code == 0, done.output
    found = json.loads(done.stdout)
    assert found["command"] == "civicloop bench dashboard" and found["notes"]["cases"] == 1000
