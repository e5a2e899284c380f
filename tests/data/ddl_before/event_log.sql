-- Every event exactly once, with where it was read from. ReplacingMergeTree keyed by
-- (case_id, event_id): a redelivered or re-produced event collapses into one row (read with FINAL).
CREATE TABLE IF NOT EXISTS {db}.event_log (
    event_id String,
    case_id String,
    type String,
    schema_version UInt16,
    occurred_at DateTime('UTC'),
    recorded_at DateTime('UTC'),
    actor_type String,
    actor_id String,
    source String,
    topic String,
    partition UInt32,
    offset UInt64,
    payload String,
    projected_at DateTime('UTC')
) ENGINE = ReplacingMergeTree(projected_at)
ORDER BY (case_id, event_id)
