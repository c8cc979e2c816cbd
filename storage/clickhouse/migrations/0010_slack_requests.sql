-- The Slack interaction requests alerting took (a button press), by the
-- digest of their timestamp and body, so that the same signed request is
-- taken once even after a restart or by another instance: a replay is
-- refused for as long as Slack's five-minute timestamp window would let it
-- through. A row per button press; nothing reads past ten minutes back.

CREATE TABLE IF NOT EXISTS {{.Database}}.slack_requests (
    digest String,
    at_ms UInt64
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(toDateTime(intDiv(at_ms, 1000)))
ORDER BY digest;
