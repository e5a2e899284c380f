-- Every input the worker could not project, with its raw bytes and the reason. Keyed by
-- where it was read (topic, partition, offset), so a redelivered bad message is recorded once.
CREATE TABLE IF NOT EXISTS {db}.dead_letters (
    topic String,
    partition UInt32,
    offset UInt64,
    reason String,
    detail String,
    case_id String,
    event_id String,
    event_type String,
    raw String,
    seen_at DateTime('UTC')
) ENGINE = ReplacingMergeTree(seen_at)
ORDER BY (topic, partition, offset)
