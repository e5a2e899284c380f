"""``civicloop bench console`` at a tiny size on chDB: the console's page, script, style and
first page of rows are timed through the real server, the search finds reports by a word of
their text, the inbox is paged to its end by keyset cursors, and first useful paint is the sum
of its requests. No timing thresholds."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from civicloop.cli import app


def test_the_command_times_the_inbox_and_the_search_beside_the_store() -> None:
    done = CliRunner().invoke(app, ["bench", "console", "--cases", "2000", "--rounds", "1", "--json"])
    assert done.exit_code == 0, done.output
    found = json.loads(done.stdout)
    notes, figures = found["notes"], found["figures"]
    assert found["command"] == "civicloop bench console" and notes["cases"] == 2000
    # a word one report in eight holds fills the search's first page; the inbox has rows
    assert notes["search_first_page_rows"] == 50
    assert 0 < notes["inbox_first_page_rows"] == min(notes["department_overdue_tasks"], 50)
    paint = sum(figures[k]["seconds"] for k in ("page", "script", "style", "api_inbox")) * 1000
    assert abs(notes["first_useful_paint_inbox_ms"] - paint) < 0.5  # the JSON rounds each figure
    assert set(found["ratios"]) == {"inbox_vs_store", "search_vs_store", "last_page_vs_first"}
