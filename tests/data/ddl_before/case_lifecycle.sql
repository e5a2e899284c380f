-- One row per case: its latest folded state (read with FINAL). Partitioned by the month of the
-- report, which never changes, so every version of a case is in one partition (FINAL within
-- partitions is exact) and a period's query reads only the months period_spans names.
-- ClickHouse 18.16-compatible:
-- second-precision DateTime('UTC'), Nullable for times not reached yet, plain String dims
-- ('' when absent) so metrics group without NULL handling. due_at / accept_by are NULL for a
-- case with no lead task, or whose lead was dispatched without that deadline. lead_department
-- of a case voided before any dispatch is the department it had been routed to (CaseVoided v2).
CREATE TABLE IF NOT EXISTS {db}.case_lifecycle (
    case_id String,
    state String,
    category String,
    priority String,
    channel String,
    district String,
    grid_id String,
    lat Nullable(Float64),
    lon Nullable(Float64),
    lead_department String,
    lead_task_id String,
    reported_at DateTime('UTC'),
    registered_at Nullable(DateTime('UTC')),
    first_dispatched_at Nullable(DateTime('UTC')),
    first_accepted_at Nullable(DateTime('UTC')),
    first_contacted_at Nullable(DateTime('UTC')),
    disposed_at Nullable(DateTime('UTC')),
    checked_at Nullable(DateTime('UTC')),
    closed_at Nullable(DateTime('UTC')),
    voided_at Nullable(DateTime('UTC')),
    feedback_at Nullable(DateTime('UTC')),
    closure_reason String,
    void_reason String,
    duplicate_of String,
    due_at Nullable(DateTime('UTC')),
    accept_by Nullable(DateTime('UTC')),
    tasks UInt16,
    returns UInt16,
    extensions UInt16,
    escalations UInt16,
    escalation_level UInt8,
    disposals UInt16,
    rework UInt16,
    reopens UInt16,
    resolved Nullable(UInt8),
    satisfaction String,
    report_to_register_ws Nullable(Int64),
    register_to_dispatch_ws Nullable(Int64),
    report_to_close_ws Nullable(Int64),
    version UInt64,
    updated_at DateTime('UTC')
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(reported_at)
ORDER BY case_id
