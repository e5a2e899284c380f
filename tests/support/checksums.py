"""Row-level checksums of civicloop's tables: equal checksums, equal rows (as FINAL reads them)."""

from __future__ import annotations

from civicloop.projections.store.base import Reader
from civicloop.projections.tables import schema

NOT_DERIVED = {"projected_at", "seen_at"}  # wall-clock stamps of when a row was written


def checksum_sql(store: Reader, database: str, table: str) -> str:
    columns = [
        name
        for (name,) in store.query(
            "SELECT name FROM system.columns WHERE database = %(db)s AND table = %(table)s",
            {"db": database, "table": table},
        )
        if name not in NOT_DERIVED and not (table == "case_state" and name == "updated_at")
    ]
    row = ", '|', ".join(f"ifNull(toString({name}), 'NULL')" for name in sorted(columns))
    return f"SELECT count(), sum(cityHash64(concat({row}))) FROM {database}.{table} FINAL"


#: tables that record how the rows were written, not what the events imply: ``period_spans``
#: holds one row per batch and month (its months are a superset whatever the batching; the
#: metric tests check what it is for), ``metric_rollup`` counts stamped with the parts' block
#: numbers when they were counted (a cache; tests/component/test_metric_rollup.py), and so are
#: the ``duration_rollup`` histograms
BY_BATCH = {schema.PERIOD_SPANS, schema.METRIC_ROLLUP, schema.BACKLOG_ROLLUP}


def checksums(store: Reader, database: str) -> dict[str, tuple]:
    return {
        table: store.query(checksum_sql(store, database, table))[0]
        for table in schema.NAMES
        if table not in BY_BATCH
    }
