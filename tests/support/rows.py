"""Test support: folded rows written straight into a database, as the projector writes them —
with the months they touch in ``period_spans`` first (``tables/periods.py``), so a period's
metric queries read those months, and those months counted into ``metric_rollup`` after them
(``metrics/rollup.py``), which all time reads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from civicloop.projections.metrics import rollup
from civicloop.projections.store.base import Store
from civicloop.projections.tables import periods, schema


def write_rows(
    store: Store, db: str, cases: Sequence[Mapping[str, Any]], tasks: Sequence[Mapping[str, Any]]
) -> None:
    spans = periods.spans(schema.CASE_LIFECYCLE, cases) + periods.spans(schema.CASE_TASKS, tasks)
    store.insert(f"{db}.{schema.PERIOD_SPANS}", spans)
    store.insert(f"{db}.{schema.CASE_LIFECYCLE}", list(cases))
    store.insert(f"{db}.{schema.CASE_TASKS}", list(tasks))
    rollup.refresh(store, db, rollup.touched(spans))
