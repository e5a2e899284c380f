-- Every signal (SurgeDetected, SurgeEnded, RecurringProblemDetected) once, from the signals
-- topic. Ids are deterministic, so a signal raised again (restart, replay, second worker)
-- collapses into its row: ReplacingMergeTree keyed by event_id, read with FINAL.
-- Recurring problems: level 'grid', window_size '', window = the look-back of `days` days,
-- observed = cases, threshold = min_cases. detail = the whole signal as JSON.
CREATE TABLE IF NOT EXISTS {db}.signals (
    event_id String,
    type String,
    occurred_at DateTime('UTC'),
    recorded_at DateTime('UTC'),
    level String,
    category String,
    place String,
    window_size String,
    window_start DateTime('UTC'),
    window_end DateTime('UTC'),
    observed Int64,
    expected Float64,
    threshold Int64,
    p_value Nullable(Float64),
    related_id String,
    detail String,
    topic String,
    partition UInt32,
    offset UInt64,
    projected_at DateTime('UTC')
) ENGINE = ReplacingMergeTree(projected_at)
ORDER BY event_id
