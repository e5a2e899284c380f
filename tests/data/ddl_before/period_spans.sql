-- Which months of case_lifecycle (month of reported_at) and case_tasks (month of dispatched_at)
-- a period's metrics must read: per table and partition month, the earliest and the latest time
-- of any period column (tables/periods.py) of any row version written there, one row per batch
-- and month, written before the batch's rows. Kept whole, never updated: the span of a month is
-- min(first_at) .. max(last_at) over its rows, a superset of its current rows' times, so a month
-- outside a period holds no row that counts in it. Identical rows (a redelivered batch) collapse
-- (the version column is only there to name one: rows of one key are identical).
CREATE TABLE IF NOT EXISTS {db}.period_spans (
    source String,
    month UInt32,
    first_at DateTime('UTC'),
    last_at DateTime('UTC')
) ENGINE = ReplacingMergeTree(last_at)
ORDER BY (source, month, first_at, last_at)
