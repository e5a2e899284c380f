"""The table view of ``civicloop metrics`` and the demo: readable at any console width."""

from __future__ import annotations

from rich.console import Console

from civicloop.tools.output import TABLE_COLUMNS, print_table

ROW = {
    "group": "sanitation.missed_pickup",
    "reported": 1234,
    "closed": 1100,
    "due": 1200,
    "due_closed": 1100,
    "closed_on_time": 900,
    "open_overdue": 17,
    "closure_rate": 0.9166,
    "on_time_closure_rate": 0.75,
    "on_time_rate_open_aware": 0.7398,
    "response_rate": 0.8123,
    "resolution_rate": 0.88,
    "satisfaction_rate": 0.912,
    "rework_rate": 0.021,
    "return_rate": None,
    "extension_rate": 0.05,
    "p50_report_to_close_s": 123_456,
    "p90_report_to_close_s": 987_654,
}


def _printed(width: int) -> str:
    console = Console(width=width, record=True, color_system=None)
    print_table(console, [ROW, {**ROW, "group": ""}], "metrics by category")
    return console.export_text()


def test_a_narrow_console_gets_several_tables_with_every_figure_whole():
    text = _printed(80)
    assert "…" not in text
    assert "(1/" in text and "metrics by category" in text
    assert text.count("sanitation.missed_pickup") > 1  # the group column is repeated
    for _, header in TABLE_COLUMNS["metrics"]:
        assert header in text
    for figure in ("1234", "91.7%", "75.0%", "34.3 h", "274.3 h", "–", "(none)"):
        assert figure in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_a_wide_console_gets_one_table():
    text = _printed(400)
    assert "…" not in text and "(1/" not in text
    assert text.count("sanitation.missed_pickup") == 1


def test_no_rows_says_so():
    console = Console(width=80, record=True, color_system=None)
    print_table(console, [], "metrics by department")
    assert "nothing projected in this period" in console.export_text()


def test_a_groups_name_is_printed_as_it_is_never_read_as_markup():
    """A city's value like ``[/x]`` once ended the command with rich's MarkupError; an escape
    character is named instead of reaching the terminal."""
    console = Console(width=200, record=True, color_system=None)
    print_table(console, [{**ROW, "group": "[/x] [bold]Parks\x1b[2J"}], "metrics by category")
    text = console.export_text()
    assert "[/x] [bold]Parks⟨U+001B⟩[2J" in text and "\x1b" not in text


def test_an_imports_summary_prints_a_citys_own_words_as_they_are(capsys):
    from civicloop.cli.ingest import show
    from civicloop.tools.ingest.report import Report

    report = Report(source="[/exports] city.csv")  # a file's name is the user's too
    report.unmapped["unknown_status:[/Closed]"] += 3
    show(report, "done")
    out = capsys.readouterr().out
    assert "unknown_status:[/Closed]" in out and "3" in out and "[/exports] city.csv" in out
