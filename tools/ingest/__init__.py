"""Importers for city 311 exports: pure parsing into events plus a report of what did not map.

`baltimore311.read(path)`, `nyc311.read(path)`, `mapping.read(path, "city.toml")`; the mapping
rules (missing dates, duplicates, DST) are documented in `rows.py` and `localtime.py`.
"""

from civicloop.tools.ingest.report import ImportResult, Report
from civicloop.tools.ingest.spec import CityMapping, Columns

__all__ = ["CityMapping", "Columns", "ImportResult", "Report"]
