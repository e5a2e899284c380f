-- How far the projections have got: per (topic, partition) the last offset of a batch whose
-- tables are all written. Written last in every batch; the highest offset is kept.
CREATE TABLE IF NOT EXISTS {db}.projection_progress (
    topic String,
    partition UInt32,
    offset UInt64,
    projected_at DateTime('UTC')
) ENGINE = ReplacingMergeTree(offset)
ORDER BY (topic, partition)
