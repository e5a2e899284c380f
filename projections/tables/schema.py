"""Every projection table, declared once: its columns, version, key and partitions (``table.py``).

The tables the fold fills are declared in ``lifecycle.py`` with how each column is filled; the
others here. Their ``CREATE TABLE IF NOT EXISTS {db}.<name>`` statements are derived from the
declarations (``Table.ddl``), in the SQL both ClickHouse backends accept (docs/DESIGN.md §7,
portability). Laying them out creates the database and every table, and brings the column
types of tables created by an older release up to date: ``CREATE TABLE IF NOT EXISTS`` leaves
an existing table as it is, so a column whose type was widened later is listed in
``NULLABLE_SINCE`` and converted where it is still the old type (``ALTER … MODIFY COLUMN``,
which ClickHouse 18.16 runs by rewriting the column).
Each store lays these out its own way (``Store.lay_out``): one node runs the statements
(``store/single.py``), a cluster derives its layout from the same statements (``cluster.py``).
"""

from __future__ import annotations

from civicloop.projections.store.base import Reader
from civicloop.projections.tables.lifecycle import LIFECYCLE, TASKS
from civicloop.projections.tables.table import STRING, TIME, Column, Table

U16, U32, U64 = "UInt16", "UInt32", "UInt64"

# Every event exactly once, with where it was read from. Keyed by (case_id, event_id): a
# redelivered or re-produced event collapses into one row (read with FINAL).
EVENT_LOG_TABLE: Table = Table(
    "event_log",
    (
        Column("event_id", STRING),
        Column("case_id", STRING),
        Column("type", STRING),
        Column("schema_version", U16),
        Column("occurred_at", TIME),
        Column("recorded_at", TIME),
        Column("actor_type", STRING),
        Column("actor_id", STRING),
        Column("source", STRING),
        Column("topic", STRING),
        Column("partition", U32),
        Column("offset", U64),
        Column("payload", STRING),
        Column("projected_at", TIME),
    ),
    version="projected_at",
    order_by=("case_id", "event_id"),
)

# Every input the worker could not project, with its raw bytes and the reason. Keyed by
# where it was read (topic, partition, offset), so a redelivered bad message is recorded once.
DEAD_LETTERS_TABLE: Table = Table(
    "dead_letters",
    (
        Column("topic", STRING),
        Column("partition", U32),
        Column("offset", U64),
        Column("reason", STRING),
        Column("detail", STRING),
        Column("case_id", STRING),
        Column("event_id", STRING),
        Column("event_type", STRING),
        Column("raw", STRING),
        Column("seen_at", TIME),
    ),
    version="seen_at",
    order_by=("topic", "partition", "offset"),
)

# Which months of case_lifecycle (month of reported_at) and case_tasks (month of dispatched_at)
# a period's metrics must read: per table and partition month, the earliest and the latest time
# of any period column (tables/periods.py) of any row version written there, one row per batch
# and month, written before the batch's rows. Kept whole, never updated: the span of a month is
# min(first_at) .. max(last_at) over its rows, a superset of its current rows' times, so a month
# outside a period holds no row that counts in it. Identical rows (a redelivered batch) collapse
# (the version column is only there to name one: rows of one key are identical).
PERIOD_SPANS_TABLE: Table = Table(
    "period_spans",
    (
        Column("source", STRING),
        Column("month", U32),
        Column("first_at", TIME),
        Column("last_at", TIME),
    ),
    version="last_at",
    order_by=("source", "month", "first_at", "last_at"),
)

# The closed-loop counts of every month, per dimension and value (projections/metrics/rollup.py):
# a cache that all time sums instead of reading every case. A month (source: the table, month:
# its partition) is counted whole from the table with FINAL and stamped (``snapshot``) with the
# partition's highest block number in system.parts, read before the count: while that is still
# the partition's block number, the month holds exactly what was counted; readers count any
# other month from the table. Keyed by (source, month, dimension, value), the highest stamp
# kept; a value no longer in the month keeps an older stamp, so readers take per (source,
# month) only the rows of its highest stamp.
ROLLUP_CASE_COUNTS = (
    "reported",
    "closed",
    "due",
    "due_closed",
    "closed_on_time",
    "registered",
    "extensions",
    "disposals",
    "rework",
    "feedback",
    "resolved",
    "satisfied",
)
ROLLUP_TASK_COUNTS = (
    "dispatched",
    "lead_with_accept_by",
    "responded",
    "assist_with_accept_by",
    "assist_signed_for",
    "returned",
)
METRIC_ROLLUP_TABLE: Table = Table(
    "metric_rollup",
    (
        Column("source", STRING),
        Column("month", U32),
        Column("dimension", STRING),
        Column("value", STRING),
        Column("snapshot", U64),
        *(Column(name, U64) for name in ROLLUP_CASE_COUNTS + ROLLUP_TASK_COUNTS),
    ),
    version="snapshot",
    order_by=("source", "month", "dimension", "value"),
)

# The open cases of each month of case_lifecycle, per dimension and value, and the moment from
# which the month has settled (projections/metrics/settled.py): the backlog takes a settled
# month from here. Counted and stamped as metric_rollup (same stamp rule, its own stamps), by
# an INSERT … SELECT.
BACKLOG_ROLLUP_TABLE: Table = Table(
    "backlog_rollup",
    (
        Column("month", U32),
        Column("dimension", STRING),
        Column("value", STRING),
        Column("snapshot", U64),
        Column("open", U64),
        Column("open_due", U64),
        Column("settled_at", TIME),
    ),
    version="snapshot",
    order_by=("month", "dimension", "value"),
)

# The worker's folded state per case (serialised CaseState) and its offset watermark: the
# last message of the case's partition whose effects are all stored. Latest by offset.
CASE_STATE_TABLE: Table = Table(
    "case_state",
    (
        Column("case_id", STRING),
        Column("state", STRING),
        Column("partition", U32),
        Column("offset", U64),
        Column("updated_at", TIME),
    ),
    version="offset",
    order_by=("case_id",),
)

# How far the projections have got: per (topic, partition) the last offset of a batch whose
# tables are all written. Written last in every batch; the highest offset is kept.
PROGRESS_TABLE: Table = Table(
    "projection_progress",
    (
        Column("topic", STRING),
        Column("partition", U32),
        Column("offset", U64),
        Column("projected_at", TIME),
    ),
    version="offset",
    order_by=("topic", "partition"),
)

# Every signal (SurgeDetected, SurgeEnded, RecurringProblemDetected) once, from the signals
# topic. Ids are deterministic, so a signal raised again (restart, replay, second worker)
# collapses into its row: keyed by event_id, read with FINAL. Recurring problems: level
# 'grid', window_size '', window = the look-back of `days` days, observed = cases, threshold =
# min_cases. detail = the whole signal as JSON.
SIGNALS_TABLE: Table = Table(
    "signals",
    (
        Column("event_id", STRING),
        Column("type", STRING),
        Column("occurred_at", TIME),
        Column("recorded_at", TIME),
        Column("level", STRING),
        Column("category", STRING),
        Column("place", STRING),
        Column("window_size", STRING),
        Column("window_start", TIME),
        Column("window_end", TIME),
        Column("observed", "Int64"),
        Column("expected", "Float64"),
        Column("threshold", "Int64"),
        Column("p_value", "Nullable(Float64)"),
        Column("related_id", STRING),
        Column("detail", STRING),
        Column("topic", STRING),
        Column("partition", U32),
        Column("offset", U64),
        Column("projected_at", TIME),
    ),
    version="projected_at",
    order_by=("event_id",),
)

# How far each signal detector has evaluated: per detector ('surge/hour', 'surge/day',
# 'recurring/day') the start of the first window not evaluated yet. Written after the signals
# of the windows before it were confirmed by Kafka; the highest kept. Rebuilt empty by a
# replay, so the detectors evaluate the rebuilt history again (same signals, same ids).
SIGNAL_PROGRESS_TABLE: Table = Table(
    "signal_progress",
    (
        Column("detector", STRING),
        Column("evaluated_until", TIME),
        Column("updated_at", TIME),
    ),
    version="evaluated_until",
    order_by=("detector",),
)

#: every table, in creation order; a rebuild creates, fills and swaps all of them
TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        EVENT_LOG_TABLE,
        DEAD_LETTERS_TABLE,
        LIFECYCLE,
        TASKS,
        PERIOD_SPANS_TABLE,
        METRIC_ROLLUP_TABLE,
        BACKLOG_ROLLUP_TABLE,
        CASE_STATE_TABLE,
        PROGRESS_TABLE,
        SIGNALS_TABLE,
        SIGNAL_PROGRESS_TABLE,
    )
}
EVENT_LOG = EVENT_LOG_TABLE.name
DEAD_LETTERS = DEAD_LETTERS_TABLE.name
CASE_LIFECYCLE: str = LIFECYCLE.name  # typed: mypyc reads this module inside an import cycle
CASE_TASKS: str = TASKS.name
CASE_STATE = CASE_STATE_TABLE.name
PERIOD_SPANS = PERIOD_SPANS_TABLE.name
METRIC_ROLLUP = METRIC_ROLLUP_TABLE.name
BACKLOG_ROLLUP = BACKLOG_ROLLUP_TABLE.name
PROGRESS = PROGRESS_TABLE.name
SIGNALS = SIGNALS_TABLE.name
SIGNAL_PROGRESS = SIGNAL_PROGRESS_TABLE.name
NAMES: tuple[str, ...] = tuple(TABLES)

#: (table, column) → its type now, for columns made Nullable after the table was first
#: released: task deadlines may be NULL since TaskDispatched v2 (no deadline set).
NULLABLE_SINCE: dict[tuple[str, str], str] = {
    (CASE_TASKS, column): TASKS.types()[column]
    for column in ("accept_by", "dispose_by", "original_dispose_by")
}


def ddl(table: str) -> str:
    """The CREATE TABLE statement of ``table``, with a ``{db}`` placeholder for the database."""
    return TABLES[table].ddl()


def statements(db: str) -> list[str]:
    """The CREATE TABLE statements for database ``db`` (create the database first)."""
    return [ddl(table).format(db=db) for table in NAMES]


#: tables a deployment gets only with its first ``case_lifecycle``: each describes every row of
#: it, so one made beside older rows would miss them
DESCRIBE_EVERY_ROW = (PERIOD_SPANS, METRIC_ROLLUP)


def names(present: set[str]) -> tuple[str, ...]:
    """The tables to make in a database that holds ``present``: all of them, except
    ``period_spans`` and ``metric_rollup`` beside a ``case_lifecycle`` made without them (by an
    earlier release). Spans that miss the older rows would let a period's query skip months it
    needs, and a rollup that misses them would count too little, so such a deployment reads
    every month and counts from the tables until ``civicloop replay`` rebuilds it in the new
    layout (docs/OPERATIONS.md)."""
    if CASE_LIFECYCLE not in present:
        return NAMES
    return tuple(t for t in NAMES if t not in DESCRIBE_EVERY_ROW or t in present)


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
