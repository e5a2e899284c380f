"""The monthly report (``civicloop report``): one self-contained HTML file — figures, ranked
departments, top problems and charts of a month against the previous one — that opens
offline; optionally a PDF of it printed by headless Chromium (docs/DASHBOARD.md)."""
