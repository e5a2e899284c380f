-- One row per task (department assignment) of a case, latest version wins (read with FINAL).
-- Partitioned by the month of dispatch, which never changes (a re-dispatch is a new task).
-- Carries the case's dimensions so task metrics group without a join. Deadlines are Nullable:
-- NULL = dispatched without one (TaskDispatched v2), never overdue and outside the response
-- rate. Tables created before that are converted by tables.ensure (ddl.NULLABLE_SINCE).
CREATE TABLE IF NOT EXISTS {db}.case_tasks (
    case_id String,
    task_id String,
    department String,
    role String,
    status String,
    category String,
    priority String,
    channel String,
    district String,
    grid_id String,
    dispatched_at DateTime('UTC'),
    accept_by Nullable(DateTime('UTC')),
    dispose_by Nullable(DateTime('UTC')),
    original_dispose_by Nullable(DateTime('UTC')),
    accepted_at Nullable(DateTime('UTC')),
    contacted_at Nullable(DateTime('UTC')),
    returned_at Nullable(DateTime('UTC')),
    disposed_at Nullable(DateTime('UTC')),
    return_reason String,
    outcome String,
    extensions UInt16,
    dispatch_to_accept_ws Nullable(Int64),
    dispatch_to_dispose_ws Nullable(Int64),
    version UInt64,
    updated_at DateTime('UTC')
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(dispatched_at)
ORDER BY (case_id, task_id)
