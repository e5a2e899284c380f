"""Every projection table: its name, its DDL (``sql/<name>.sql``), and its upgrades.

Each ``sql/<name>.sql`` holds one ``CREATE TABLE IF NOT EXISTS {db}.<name>`` statement, in the
SQL both ClickHouse backends accept (docs/DESIGN.md §7, portability). Laying them out creates
the database and every table, and brings the column types of tables created by an older release
up to date: ``CREATE TABLE IF NOT EXISTS`` leaves an existing table as it is, so a column whose
type was widened later is listed in ``NULLABLE_SINCE`` and converted where it is still the old
type (``ALTER … MODIFY COLUMN``, which ClickHouse 18.16 runs by rewriting the column).
Each store lays these out its own way (``Store.lay_out``): one node runs the statements
(``store/single.py``), a cluster derives its layout from the same files (``cluster.py``).
"""

from __future__ import annotations

from importlib import resources

from civicloop.projections.store.base import Reader

EVENT_LOG = "event_log"
DEAD_LETTERS = "dead_letters"
CASE_LIFECYCLE = "case_lifecycle"
CASE_TASKS = "case_tasks"
CASE_STATE = "case_state"
PERIOD_SPANS = "period_spans"
PROGRESS = "projection_progress"
SIGNALS = "signals"
SIGNAL_PROGRESS = "signal_progress"

#: every table, in creation order; a rebuild creates, fills and swaps all of them
NAMES: tuple[str, ...] = (
    EVENT_LOG,
    DEAD_LETTERS,
    CASE_LIFECYCLE,
    CASE_TASKS,
    PERIOD_SPANS,
    CASE_STATE,
    PROGRESS,
    SIGNALS,
    SIGNAL_PROGRESS,
)

#: (table, column) → its type now, for columns made Nullable after the table was first
#: released: task deadlines may be NULL since TaskDispatched v2 (no deadline set).
NULLABLE_SINCE: dict[tuple[str, str], str] = {
    (CASE_TASKS, "accept_by"): "Nullable(DateTime('UTC'))",
    (CASE_TASKS, "dispose_by"): "Nullable(DateTime('UTC'))",
    (CASE_TASKS, "original_dispose_by"): "Nullable(DateTime('UTC'))",
}


def ddl(table: str) -> str:
    """The CREATE TABLE statement of ``table``, with a ``{db}`` placeholder for the database."""
    return resources.files("civicloop.projections.tables").joinpath("sql", f"{table}.sql").read_text()


def statements(db: str) -> list[str]:
    """The CREATE TABLE statements for database ``db`` (create the database first)."""
    return [ddl(table).format(db=db) for table in NAMES]


def names(present: set[str]) -> tuple[str, ...]:
    """The tables to make in a database that holds ``present``: all of them, except
    ``period_spans`` beside a ``case_lifecycle`` made without it (by a release before month
    partitions). Spans that miss the older rows would let a period's query skip months it
    needs, so such a deployment reads every month until ``civicloop replay`` rebuilds it in
    the new layout (docs/OPERATIONS.md)."""
    if CASE_LIFECYCLE in present and PERIOD_SPANS not in present:
        return tuple(t for t in NAMES if t != PERIOD_SPANS)
    return NAMES


def column_types(store: Reader, database: str) -> dict[tuple[str, str], str]:
    """(table, column) → type of every column in ``database``."""
    rows = store.query(
        "SELECT table, name, type FROM system.columns WHERE database = %(db)s", {"db": database}
    )
    return {(str(table), str(name)): str(typ) for table, name, typ in rows}


def upgrades(db: str, types: dict[tuple[str, str], str]) -> list[str]:
    """``ALTER`` statements for the ``NULLABLE_SINCE`` columns whose current type (``types``:
    (table, column) → type, as ``system.columns`` reports it) is not the Nullable one yet."""
    return [
        f"ALTER TABLE {db}.{table} MODIFY COLUMN {column} {wanted}"
        for (table, column), wanted in NULLABLE_SINCE.items()
        if types.get((table, column), wanted).replace(" ", "") != wanted.replace(" ", "")
    ]
