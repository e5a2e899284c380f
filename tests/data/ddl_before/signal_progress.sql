-- How far each signal detector has evaluated: per detector ('surge/hour', 'surge/day',
-- 'recurring/day') the start of the first window not evaluated yet. Written after the signals
-- of the windows before it were confirmed by Kafka; the highest kept. Rebuilt empty by a
-- replay, so the detectors evaluate the rebuilt history again (same signals, same ids).
CREATE TABLE IF NOT EXISTS {db}.signal_progress (
    detector String,
    evaluated_until DateTime('UTC'),
    updated_at DateTime('UTC')
) ENGINE = ReplacingMergeTree(evaluated_until)
ORDER BY detector
