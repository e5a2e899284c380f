-- The open cases of each month per dimension and value, and when the month settled
-- (projections/metrics/settled.py), stamped like metric_rollup.
CREATE TABLE IF NOT EXISTS {db}.backlog_rollup (
    month UInt32,
    dimension String,
    value String,
    snapshot UInt64,
    open UInt64,
    open_due UInt64,
    settled_at DateTime('UTC')
) ENGINE = ReplacingMergeTree(snapshot)
ORDER BY (month, dimension, value)
