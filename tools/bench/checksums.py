"""Are two databases' projections the same? Row checksums of every table, and the differences.

Each table is read with ``FINAL`` (every table is a ReplacingMergeTree: redelivered rows
collapse) and hashed row by row over the columns that follow from the events alone — not
where or when a row was written (topic, partition, offset, projected/seen times, batch
markers), which differ between a run under chaos and a clean one by design. ``differences``
names every table whose count or checksum differs, and the keys of the rows that differ.
"""

from __future__ import annotations

from civicloop.projections.store.base import Reader
from civicloop.projections.tables import schema

#: columns that say where or when a row was written, not what the events imply (the case
#: state's ``updated_at`` is the time it was saved; the lifecycle's is the time of an event)
WRITE_DETAILS = frozenset({"topic", "partition", "offset", "projected_at", "seen_at"})
WRITTEN_AT = {schema.CASE_STATE: frozenset({"updated_at"})}
#: the key of each compared table (to name differing rows)
KEYS = {
    schema.EVENT_LOG: ("case_id", "event_id"),
    schema.DEAD_LETTERS: ("event_id", "reason"),
    schema.CASE_LIFECYCLE: ("case_id",),
    schema.CASE_TASKS: ("case_id", "task_id"),
    schema.CASE_STATE: ("case_id",),
    schema.SIGNALS: ("event_id",),
}
SHOWN = 10  # differing rows named per table


def _columns(reader: Reader, database: str, table: str) -> list[str]:
    rows = reader.query(
        "SELECT name FROM system.columns WHERE database = %(db)s AND table = %(table)s",
        {"db": database, "table": table},
    )
    skip = WRITE_DETAILS | WRITTEN_AT.get(table, frozenset())
    return sorted(str(name) for (name,) in rows if name not in skip)


def _row_hash(columns: list[str]) -> str:
    # toString and ifNull: a NULL anywhere must not turn the whole hash into NULL.
    return "cityHash64(" + ", ".join(f"ifNull(toString(`{c}`), '∅')" for c in columns) + ")"


def checksum(reader: Reader, database: str, table: str) -> tuple[int, int]:
    """(rows, sum of row hashes mod 2⁶⁴) of ``table`` read with FINAL."""
    row_hash = _row_hash(_columns(reader, database, table))
    count, total = reader.query(f"SELECT count(), sum({row_hash}) FROM {database}.{table} FINAL")[0]
    return int(count), int(total or 0)


def _hashes(reader: Reader, database: str, table: str, columns: list[str]) -> dict[tuple[str, ...], int]:
    key = ", ".join(f"toString(`{k}`)" for k in KEYS[table])
    rows = reader.query(f"SELECT {key}, {_row_hash(columns)} FROM {database}.{table} FINAL")
    return {tuple(row[:-1]): int(row[-1]) for row in rows}


def differences(reader: Reader, database: str, reference: str) -> list[str]:
    """Every way ``database``'s projections differ from ``reference``'s; [] when identical."""
    found = []
    for table in KEYS:
        got, want = checksum(reader, database, table), checksum(reader, reference, table)
        if got == want:
            continue
        columns = _columns(reader, reference, table)
        mine, theirs = _hashes(reader, database, table, columns), _hashes(reader, reference, table, columns)
        keys = sorted(set(mine) | set(theirs))
        differing = [k for k in keys if mine.get(k) != theirs.get(k)]
        shown = ", ".join(
            f"{'/'.join(k)} ({'missing' if k not in mine else 'extra' if k not in theirs else 'differs'})"
            for k in differing[:SHOWN]
        )
        found.append(
            f"{table}: {got[0]} rows vs {want[0]} in the clean run; {len(differing)} row(s) differ: {shown}"
        )
    return found
