-- The closed-loop counts of every month per dimension and value (projections/metrics/rollup.py),
-- a cache all time sums: a month (source: the table, month: its partition) counted whole from
-- the table with FINAL, stamped (snapshot) with the partition's highest block number read before
-- the count; readers use a month only while that is still its block number, and per month only
-- the rows of its highest stamp (a value gone from the month keeps an older one).
CREATE TABLE IF NOT EXISTS {db}.metric_rollup (
    source String,
    month UInt32,
    dimension String,
    value String,
    snapshot UInt64,
    reported UInt64,
    closed UInt64,
    due UInt64,
    due_closed UInt64,
    closed_on_time UInt64,
    registered UInt64,
    extensions UInt64,
    disposals UInt64,
    rework UInt64,
    feedback UInt64,
    resolved UInt64,
    satisfied UInt64,
    dispatched UInt64,
    lead_with_accept_by UInt64,
    responded UInt64,
    assist_with_accept_by UInt64,
    assist_signed_for UInt64,
    returned UInt64
) ENGINE = ReplacingMergeTree(snapshot)
ORDER BY (source, month, dimension, value)
