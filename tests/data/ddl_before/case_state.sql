-- The worker's folded state per case (serialised CaseState) and its offset watermark: the
-- last message of the case's partition whose effects are all stored. Latest by offset.
CREATE TABLE IF NOT EXISTS {db}.case_state (
    case_id String,
    state String,
    partition UInt32,
    offset UInt64,
    updated_at DateTime('UTC')
) ENGINE = ReplacingMergeTree(offset)
ORDER BY case_id
